"""Fetching image bytes: local paths, file:// and inline sources, HTTP on loopback only."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from rules.images.fetch import (
    FetchedImage,
    FetchFailure,
    FetchFailureReason,
    FetchPolicy,
    fetch_image,
)
from tests import imagegen
from tests.rules.images.loopback import LoopbackServer, endless, redirect, respond

PNG = imagegen.png(imagegen.photo(size=(64, 48)))
FAST = FetchPolicy(timeout=2.0)


async def test_local_path_relative_absolute_and_file_url(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    sources: list[tuple[str | Path, Path | None]] = [
        ("a.png", tmp_path),
        (str(tmp_path / "a.png"), None),
        (tmp_path / "a.png", None),
        ((tmp_path / "a.png").as_uri(), None),
    ]
    for source, base in sources:
        result = await fetch_image(source, base_dir=base)
        assert isinstance(result, FetchedImage), (source, result)
        assert result.data == PNG and result.kind == "png"


@pytest.mark.parametrize(
    ("name", "content", "policy", "reason"),
    [
        ("missing.png", None, FAST, FetchFailureReason.NOT_FOUND),
        ("archive.png", imagegen.zip_archive(), FAST, FetchFailureReason.NOT_AN_IMAGE),
        ("empty.png", b"", FAST, FetchFailureReason.EMPTY),
        ("big.png", PNG, FetchPolicy(max_bytes=100), FetchFailureReason.TOO_LARGE),
        ("a.png", PNG, FetchPolicy(allow_local=False), FetchFailureReason.NOT_ALLOWED),
        ("a.png", PNG, FetchPolicy(local_roots=(Path("/nonexistent"),)), "not_allowed"),
    ],
)
async def test_local_failures(
    tmp_path: Path, name: str, content: bytes | None, policy: FetchPolicy, reason: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    result = await fetch_image(name, base_dir=tmp_path, policy=policy)
    assert isinstance(result, FetchFailure) and result.reason == reason, result


async def test_local_roots_allow_inside(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    policy = FetchPolicy(local_roots=(tmp_path,))
    assert isinstance(await fetch_image(tmp_path / "a.png", policy=policy), FetchedImage)
    outside = await fetch_image(tmp_path / ".." / tmp_path.name / "a.png", policy=policy)
    assert isinstance(outside, FetchedImage)  # resolves back inside


async def test_special_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for source in (fifo, Path("/dev/zero")):
        result = await fetch_image(source, policy=FAST)
        assert isinstance(result, FetchFailure)
        assert result.reason == FetchFailureReason.UNREADABLE, result


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("base64://" + base64.b64encode(PNG).decode(), None),
        ("data:image/png;base64," + base64.b64encode(PNG).decode(), None),
        ("base64://" + base64.b64encode(b"<html>no</html>").decode(), "not_an_image"),
        ("base64://" + base64.b64encode(b"x" * (len(PNG) + 50)).decode(), "too_large"),
        ("data:text/plain,hello", "bad_source"),
        ("ftp://example.invalid/a.png", "not_allowed"),
        ("file://otherhost/a.png", "bad_source"),
    ],
)
async def test_inline_and_schemes(source: str, reason: str | None) -> None:
    result = await fetch_image(source, policy=FetchPolicy(max_bytes=len(PNG) + 10))
    if reason is None:
        assert isinstance(result, FetchedImage) and result.data == PNG
    else:
        assert isinstance(result, FetchFailure) and result.reason == reason, result


async def test_http_answers() -> None:
    async with LoopbackServer() as server:
        server.routes = {
            "/ok.png": respond(PNG, content_type="image/png"),
            "/moved": redirect("/ok.png"),
            "/page": respond(b"<!DOCTYPE html><html>" + b" " * 1000, content_type="image/png"),
            "/huge": respond(b"\x89PNG" + b"\x00" * 10_000),
            "/huge-undeclared": respond(b"\x89PNG" + b"\x00" * 10_000, declare_length=False),
            "/endless": endless(),
            "/gone": respond(b"", status=410),
        }
        policy = FetchPolicy(max_bytes=8192, timeout=2.0)
        expected = {
            "/ok.png": None,
            "/moved": None,
            "/page": "not_an_image",
            "/huge": "too_large",
            "/huge-undeclared": "too_large",
            "/endless": "too_large",
            "/gone": "http_status",
            "/missing": "http_status",
        }
        for path, reason in expected.items():
            result = await fetch_image(server.url(path), policy=policy)
            if reason is None:
                assert isinstance(result, FetchedImage), (path, result)
                assert result.data == PNG and result.content_type == "image/png"
            else:
                assert isinstance(result, FetchFailure), (path, result)
                assert result.reason == reason, (path, result)


async def test_http_connection_refused_is_a_network_failure() -> None:
    async with LoopbackServer() as server:
        url = server.url("/x")
    result = await fetch_image(url, policy=FAST)  # the server is closed now
    assert isinstance(result, FetchFailure) and result.reason == FetchFailureReason.NETWORK

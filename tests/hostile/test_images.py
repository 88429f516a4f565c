"""Hostile pictures: bombs, lies, truncation, endless animations, disguised files, stalls.

Each gives a typed result quickly, raises nothing and keeps memory bounded.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from rules.images.decode import (
    DecodedImage,
    DecodeFailure,
    DecodeFailureReason,
    decode_image,
)
from rules.images.fetch import (
    FetchedImage,
    FetchFailure,
    FetchFailureReason,
    FetchPolicy,
    fetch_image,
)
from tests import imagegen
from tests.rules.images.loopback import LoopbackServer, endless, respond, stall

ROOT = Path(__file__).resolve().parents[2]


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(imagegen.jpeg(imagegen.photo(size=(64, 64))))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(imagegen.many_frame_gif(2))
    data[6:10] = width.to_bytes(2, "little") + height.to_bytes(2, "little")
    return bytes(data)


TOO_MANY_PIXELS = DecodeFailureReason.TOO_MANY_PIXELS
HOSTILE: dict[str, tuple[Callable[[], bytes], DecodeFailureReason | None]] = {
    "PNG header 30000x30000": (lambda: imagegen.png_header_only(30_000, 30_000), TOO_MANY_PIXELS),
    "PNG header 9000x9000 (under Pillow's own limit)": (
        lambda: imagegen.png_header_only(9_000, 9_000),
        TOO_MANY_PIXELS,
    ),
    "PNG bomb 20000x20000": (lambda: imagegen.png_bomb(20_000, 20_000), TOO_MANY_PIXELS),
    "JPEG declaring 12000x12000": (lambda: _jpeg_declaring(12_000, 12_000), TOO_MANY_PIXELS),
    "GIF screen 65535x65535": (lambda: _gif_declaring(65_535, 65_535), TOO_MANY_PIXELS),
    "truncated JPEG": (
        lambda: imagegen.truncated(imagegen.jpeg(imagegen.photo())),
        DecodeFailureReason.TRUNCATED,
    ),
    "truncated PNG": (
        lambda: imagegen.truncated(imagegen.png(imagegen.photo(size=(300, 300)))),
        DecodeFailureReason.TRUNCATED,
    ),
    "JPEG header only": (
        lambda: imagegen.jpeg(imagegen.photo(size=(64, 64)))[:200],
        DecodeFailureReason.TRUNCATED,
    ),
    "ZIP named .png": (imagegen.zip_archive, DecodeFailureReason.NOT_AN_IMAGE),
    "random bytes": (imagegen.random_bytes, DecodeFailureReason.NOT_AN_IMAGE),
    "PNG magic then garbage": (
        lambda: b"\x89PNG\r\n\x1a\n" + imagegen.random_bytes(5000),
        DecodeFailureReason.CORRUPT,
    ),
    "GIF magic then garbage": (
        lambda: b"GIF89a" + imagegen.random_bytes(5000),
        None,  # Pillow may read a garbage canvas or refuse it: either way, typed
    ),
    "HTML error page": (
        lambda: b"<!DOCTYPE html><html><body>403</body></html>",
        DecodeFailureReason.NOT_AN_IMAGE,
    ),
    "GIF with 5,000 frames": (lambda: imagegen.many_frame_gif(5_000), None),
    "GIF with 50,000 frames": (lambda: imagegen.many_frame_gif(50_000), None),
    "truncated animated GIF": (lambda: imagegen.truncated(imagegen.many_frame_gif(3_000)), None),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_picture_gives_a_typed_result_quickly(name: str) -> None:
    make, reason = HOSTILE[name]
    data = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        started = time.perf_counter()
        result = decode_image(data)
        elapsed = time.perf_counter() - started
    assert isinstance(result, DecodedImage | DecodeFailure)
    assert elapsed < 2.0, (name, elapsed)
    if reason is not None:
        assert isinstance(result, DecodeFailure), (name, result)
        assert result.reason == reason, (name, result)
    if isinstance(result, DecodedImage):
        assert len(result.frames) <= 3
        assert all(max(frame.size) <= 2048 for frame in result.frames)
    if name.startswith("GIF with"):
        assert isinstance(result, DecodedImage) and result.frames_truncated


def test_memory_stays_bounded() -> None:
    """Decoding every hostile picture in a fresh process peaks far below what trusting a
    bomb's header would cost (a 20,000 x 20,000 RGB frame alone is 1.2 GB)."""
    script = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
from tests.hostile.test_images import HOSTILE
from rules.images.decode import decode_image
inputs = [make() for make, _ in HOSTILE.values()]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for data in inputs:
    decode_image(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after)
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    before_kb, after_kb = map(int, completed.stdout.split()[-2:])
    assert (after_kb - before_kb) < 200 * 1024, (before_kb, after_kb)


async def test_zip_named_png_is_refused_by_fetch(tmp_path: Path) -> None:
    disguised = tmp_path / "photo.png"
    disguised.write_bytes(imagegen.zip_archive())
    result = await fetch_image(disguised)
    assert isinstance(result, FetchFailure) and result.reason == FetchFailureReason.NOT_AN_IMAGE


@pytest.mark.parametrize(
    ("name", "route"),
    [("never answers", stall()), ("dribbles forever", endless(b"\x89PNG", pause=0.05))],
)
async def test_url_that_never_finishes_times_out(name: str, route: object) -> None:
    async with LoopbackServer() as server:
        server.routes = {"/slow.png": route}  # type: ignore[dict-item]
        started = time.perf_counter()
        result = await fetch_image(server.url("/slow.png"), policy=FetchPolicy(timeout=0.5))
        elapsed = time.perf_counter() - started
    assert isinstance(result, FetchFailure), name
    assert result.reason == FetchFailureReason.TIMEOUT, (name, result)
    assert elapsed < 2.0, (name, elapsed)


async def test_served_zip_with_image_content_type_is_refused() -> None:
    async with LoopbackServer() as server:
        server.routes = {"/a.png": respond(imagegen.zip_archive(), content_type="image/png")}
        result = await fetch_image(server.url("/a.png"))
    assert isinstance(result, FetchFailure) and result.reason == FetchFailureReason.NOT_AN_IMAGE
    assert not isinstance(result, FetchedImage)

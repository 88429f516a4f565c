"""Fetch image bytes from a path or URL with a size cap, a total timeout and sniffing.

Sources: a local path (absolute, or relative to ``base_dir``), a ``file://`` URL, an
``http(s)://`` URL, and the inline forms OneBot implementations use, ``base64://...``
and ``data:image/...;base64,...``. Whatever the source:

- at most ``max_bytes`` are read (default 10 MB): a declared Content-Length over the cap
  stops before the body, a body that goes on past it is cut off at the cap, and a
  compressed body is counted after decompression;
- the whole fetch, connection and redirects included, ends within ``timeout`` seconds
  (a server that accepts and never answers, or dribbles a byte a second, times out);
- the first bytes are sniffed (:func:`rules.images.decode.sniff`): an HTML error page or
  an archive is refused as soon as its first bytes arrive, whatever its name or
  Content-Type says;
- local files must be regular files (not a FIFO that never ends, not ``/dev/zero``),
  and may be confined to ``local_roots``;
- failures are :class:`FetchFailure` values with a reason; no exception escapes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from rules.core.model import ImageRef
from rules.images.decode import SNIFF_BYTES, sniff


class FetchFailureReason(StrEnum):
    BAD_SOURCE = "bad_source"
    NOT_ALLOWED = "not_allowed"
    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    NETWORK = "network"
    NOT_AN_IMAGE = "not_an_image"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and permissions for fetching.

    ``local_roots``: when set, local paths must resolve inside one of these folders.
    ``allow_local``: whether paths and ``file://`` URLs are fetched at all (turn it off
    for URLs taken from message content rather than from the platform).
    """

    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 10.0
    allow_local: bool = True
    local_roots: tuple[Path, ...] | None = None
    allow_inline: bool = True
    max_redirects: int = 5
    user_agent: str = "GroupGuard image fetch"

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError("FetchPolicy.max_bytes must be at least 1")
        if not self.timeout > 0:
            raise ValueError("FetchPolicy.timeout must be positive")


@dataclass(frozen=True, slots=True)
class FetchedImage:
    """Bytes that look like an image (``kind`` from sniffing; decoding comes next)."""

    data: bytes
    source: str
    kind: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class FetchFailure:
    reason: FetchFailureReason
    detail: str
    source: str


FetchResult = FetchedImage | FetchFailure


class _Failed(Exception):
    def __init__(self, reason: FetchFailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


async def fetch_image(
    source: str | Path,
    *,
    policy: FetchPolicy | None = None,
    base_dir: Path | None = None,
    client: httpx.AsyncClient | None = None,
) -> FetchResult:
    """Fetch ``source`` within ``policy``; pass a shared ``client`` to reuse connections
    (its own timeouts and redirect settings then apply beside the total timeout)."""
    policy = policy or FetchPolicy()
    label = str(source)
    try:
        async with asyncio.timeout(policy.timeout):
            data, content_type = await _fetch(source, policy, base_dir, client)
    except _Failed as failed:
        return FetchFailure(failed.reason, failed.detail, label)
    except TimeoutError:
        return FetchFailure(
            FetchFailureReason.TIMEOUT, f"no complete answer within {policy.timeout:g} s", label
        )
    except httpx.TooManyRedirects as error:
        return FetchFailure(FetchFailureReason.NETWORK, f"too many redirects: {error}", label)
    except (httpx.HTTPError, OSError) as error:
        return FetchFailure(FetchFailureReason.NETWORK, f"{type(error).__name__}: {error}", label)
    except Exception as error:  # a fetch never raises into the image pipeline
        return FetchFailure(FetchFailureReason.NETWORK, f"{type(error).__name__}: {error}", label)
    if not data:
        return FetchFailure(FetchFailureReason.EMPTY, "no bytes", label)
    sniffed = sniff(data[:SNIFF_BYTES])
    if not sniffed.is_image:
        return FetchFailure(
            FetchFailureReason.NOT_AN_IMAGE, f"not an image: {sniffed.description}", label
        )
    return FetchedImage(data, label, sniffed.kind, content_type)


async def _fetch(
    source: str | Path,
    policy: FetchPolicy,
    base_dir: Path | None,
    client: httpx.AsyncClient | None,
) -> tuple[bytes, str | None]:
    if isinstance(source, str):
        return await _fetch_named(source, policy, base_dir, client)
    return await _read_local(source, policy, base_dir), None


async def _fetch_named(
    text: str,
    policy: FetchPolicy,
    base_dir: Path | None,
    client: httpx.AsyncClient | None,
) -> tuple[bytes, str | None]:
    text = text.strip()
    scheme = urlsplit(text).scheme.lower() if "://" in text or text.startswith("data:") else ""
    if scheme in ("http", "https"):
        return await _read_http(text, policy, client)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise _Failed(FetchFailureReason.BAD_SOURCE, f"file URL on host {parts.netloc!r}")
        return await _read_local(Path(unquote(parts.path)), policy, None), None
    if scheme in ("base64", "data"):
        return _read_inline(text, policy)
    if scheme:
        raise _Failed(FetchFailureReason.NOT_ALLOWED, f"unsupported URL scheme {scheme!r}")
    if not text:
        raise _Failed(FetchFailureReason.BAD_SOURCE, "empty source")
    return await _read_local(Path(text), policy, base_dir), None


# -- local files -----------------------------------------------------------------------------


async def _read_local(path: Path, policy: FetchPolicy, base_dir: Path | None) -> bytes:
    if not policy.allow_local:
        raise _Failed(FetchFailureReason.NOT_ALLOWED, "local files are not allowed here")
    return await asyncio.to_thread(_read_file, path, base_dir, policy)


def _read_file(path: Path, base_dir: Path | None, policy: FetchPolicy) -> bytes:
    path = path.expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise _Failed(FetchFailureReason.NOT_FOUND, f"no such file: {path}") from None
    except (OSError, RuntimeError) as error:
        raise _Failed(FetchFailureReason.UNREADABLE, f"{path}: {error}") from None
    if policy.local_roots is not None and not any(
        resolved.is_relative_to(root.resolve()) for root in policy.local_roots
    ):
        raise _Failed(FetchFailureReason.NOT_ALLOWED, f"{path} is outside the allowed folders")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        descriptor = os.open(resolved, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise _Failed(FetchFailureReason.UNREADABLE, f"{path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Failed(FetchFailureReason.UNREADABLE, f"{path} is not a regular file")
        if info.st_size > policy.max_bytes:
            raise _Failed(
                FetchFailureReason.TOO_LARGE,
                f"{info.st_size} bytes, over the limit of {policy.max_bytes}",
            )
        data = handle.read(policy.max_bytes + 1)
    if len(data) > policy.max_bytes:
        raise _Failed(FetchFailureReason.TOO_LARGE, f"over the limit of {policy.max_bytes} bytes")
    return data


# -- inline data -----------------------------------------------------------------------------


def _read_inline(text: str, policy: FetchPolicy) -> tuple[bytes, str | None]:
    if not policy.allow_inline:
        raise _Failed(FetchFailureReason.NOT_ALLOWED, "inline images are not allowed here")
    content_type = None
    if text.startswith("data:"):
        header, comma, payload = text[5:].partition(",")
        if not comma or not header.endswith(";base64"):
            raise _Failed(FetchFailureReason.BAD_SOURCE, "only base64 data: URLs are read")
        content_type = header[: -len(";base64")] or None
    else:
        payload = text[len("base64://") :]
    if len(payload) > (policy.max_bytes + 2) // 3 * 4 + 4:
        raise _Failed(FetchFailureReason.TOO_LARGE, f"over the limit of {policy.max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as error:
        raise _Failed(FetchFailureReason.BAD_SOURCE, f"bad base64: {error}") from None
    if len(data) > policy.max_bytes:
        raise _Failed(FetchFailureReason.TOO_LARGE, f"over the limit of {policy.max_bytes} bytes")
    return data, content_type


# -- HTTP ------------------------------------------------------------------------------------


async def _read_http(
    url: str, policy: FetchPolicy, client: httpx.AsyncClient | None
) -> tuple[bytes, str | None]:
    if client is not None:
        return await _stream(client, url, policy)
    timeout = httpx.Timeout(policy.timeout)
    async with httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        headers={"User-Agent": policy.user_agent},
    ) as own:
        return await _stream(own, url, policy)


async def _stream(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy
) -> tuple[bytes, str | None]:
    async with client.stream("GET", url) as response:
        if response.status_code >= 400:
            raise _Failed(FetchFailureReason.HTTP_STATUS, f"HTTP {response.status_code}")
        content_type = response.headers.get("content-type")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
            raise _Failed(
                FetchFailureReason.TOO_LARGE,
                f"Content-Length {declared}, over the limit of {policy.max_bytes}",
            )
        chunks: list[bytes] = []
        received = 0
        sniffed = False
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            received += len(chunk)
            if received > policy.max_bytes:
                raise _Failed(
                    FetchFailureReason.TOO_LARGE, f"over the limit of {policy.max_bytes} bytes"
                )
            if not sniffed and received >= SNIFF_BYTES:
                sniffed = True
                head = b"".join(chunks)[:SNIFF_BYTES]
                kind = sniff(head)
                if not kind.is_image:
                    raise _Failed(
                        FetchFailureReason.NOT_AN_IMAGE, f"not an image: {kind.description}"
                    )
        return b"".join(chunks), content_type


class ImageFetchError(Exception):
    """A picture's bytes could not be had (too large, timed out, gone); the message says why."""


def source_fetcher(
    policy: FetchPolicy | None = None,
    base_dir: Path | None = None,
    client: httpx.AsyncClient | None = None,
) -> Callable[[ImageRef], Awaitable[bytes]]:
    """A fetcher for the image stage that reads each picture's ``source`` (path or URL)."""

    async def fetch(ref: ImageRef) -> bytes:
        found = await fetch_image(
            ref.source or ref.key, policy=policy, base_dir=base_dir, client=client
        )
        if isinstance(found, FetchFailure):
            raise ImageFetchError(f"{found.reason.value}: {found.detail}")
        return found.data

    return fetch

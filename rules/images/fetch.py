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
- with ``allow_private`` off (URLs from message content), an HTTP(S) URL must name a
  public address, and so must every redirect it leads to (see below);
- failures are :class:`FetchFailure` values with a reason; no exception escapes.

Public addresses only: a URL that a group member wrote (a card's preview picture, a
sticker's link) must not make the bot send requests to itself, its LAN or the cloud
metadata service (SSRF). Before each request, the first and every redirect hop, the
URL's host is checked: an IP literal as it is; a name resolved with the event loop's
``getaddrinfo`` and refused if *any* of its addresses is not public
(:func:`is_public_address`). Redirects are then followed here, one checked hop at a
time, up to ``max_redirects``, whether the client is our own or a shared one.

The limit: the check resolves the name, then the HTTP client resolves it again to
connect. A name whose DNS answer changes between the two (DNS rebinding, a very short
TTL) can still reach a private address. Closing that would mean connecting to the
checked address itself; a proxy configured for the bot (``HTTP(S)_PROXY``) resolves
names on its own side anyway. Where that matters, deny private ranges to the bot's
outbound traffic at the firewall too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import os
import socket
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
    ``allow_private``: whether HTTP(S) URLs may lead to loopback, private, link-local or
    other non-public addresses (turn it off for URLs taken from message content: every
    hop is then checked before it is requested).
    """

    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 10.0
    allow_local: bool = True
    local_roots: tuple[Path, ...] | None = None
    allow_inline: bool = True
    allow_private: bool = True
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
    (its own timeouts then apply beside the total timeout, and its redirect settings
    unless ``policy.allow_private`` is off: then redirects are followed hop by hop here)."""
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
        return await _get(client, url, policy)
    timeout = httpx.Timeout(policy.timeout)
    async with httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=policy.allow_private,
        max_redirects=policy.max_redirects,
        headers={"User-Agent": policy.user_agent},
    ) as own:
        return await _get(own, url, policy)


async def _get(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy
) -> tuple[bytes, str | None]:
    if policy.allow_private:
        async with client.stream("GET", url) as response:
            return await _read_body(response, policy)
    request = client.build_request("GET", url)
    for _ in range(policy.max_redirects + 1):
        await _require_public(request.url)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is None:
                return await _read_body(response, policy)
            request = response.next_request
        finally:
            await response.aclose()
    raise _Failed(FetchFailureReason.NETWORK, f"more than {policy.max_redirects} redirects")


async def _read_body(response: httpx.Response, policy: FetchPolicy) -> tuple[bytes, str | None]:
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
                raise _Failed(FetchFailureReason.NOT_AN_IMAGE, f"not an image: {kind.description}")
    return b"".join(chunks), content_type


# -- public addresses only -------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the low 32 bits are IPv4


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address, the only kind content may name.

    ``is_global`` already excludes loopback, RFC 1918, CGNAT (100.64/10), link-local
    (169.254/16, fe80::/10, where cloud metadata lives), unique-local (fc00::/7),
    documentation, benchmarking, reserved and unspecified addresses; multicast and
    broadcast are excluded here too. An IPv6 address that carries an IPv4 one (IPv4-mapped
    ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``) is judged by that too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
    )


async def _require_public(url: httpx.URL) -> None:
    """Raise ``NOT_ALLOWED`` unless every address ``url``'s host stands for is public."""
    if url.scheme not in ("http", "https"):
        raise _Failed(FetchFailureReason.NOT_ALLOWED, f"unsupported URL scheme {url.scheme!r}")
    host = url.raw_host.decode("ascii")
    if not host:
        raise _Failed(FetchFailureReason.BAD_SOURCE, "URL without a host")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
    refused = sorted({str(address) for address in addresses if not is_public_address(address)})
    if refused:
        raise _Failed(
            FetchFailureReason.NOT_ALLOWED,
            f"{url.host} is a private or local address ({', '.join(refused)})",
        )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (the system resolver, off the event loop)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:  # socket.gaierror: no such name, no DNS
        raise _Failed(FetchFailureReason.NETWORK, f"cannot resolve {host}: {error}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        if info[0] in (socket.AF_INET, socket.AF_INET6):
            addresses.append(ipaddress.ip_address(str(info[4][0]).partition("%")[0]))
    if not addresses:
        raise _Failed(FetchFailureReason.NETWORK, f"{host} has no IP address")
    return addresses


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

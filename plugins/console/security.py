"""The console's web defences: secrets, CSRF tokens, response headers, rate limits.

- Sign-in links and session cookies carry 256-bit random tokens; the database
  keeps only their SHA-256, so a copy of the database opens no session.
- The CSRF token of a session is an HMAC of its (secret) cookie value: it is
  never stored, differs per session, and a page from another site cannot read
  it. Every POST must carry it; a POST from another origin is refused before.
- Every response carries a strict Content-Security-Policy (scripts and styles
  only from our own static files, nothing inline), refuses framing and MIME
  sniffing, and sends no Referer to other sites (a sign-in link must not leak
  through it). Not ``no-referrer``: under it browsers send ``Origin: null``
  with our own form posts, and the origin check needs the real one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_BYTES = 32

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


def new_token() -> str:
    """A fresh random secret, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database stores for a secret token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token belonging to one session (derived, never stored)."""
    return hmac.new(session_token.encode(), b"groupguard-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, sent: str) -> bool:
    return hmac.compare_digest(csrf_token(session_token).encode(), sent.encode("utf-8", "replace"))


def looks_like_token(text: str) -> bool:
    """Cheap shape check before a token reaches the database."""
    return 20 <= len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response of the console.

    HTML is never cached (it shows personal data); the versioned static files
    may be cached for a year.
    """

    def __init__(self, app: ASGIApp, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        static = path.removeprefix(root).startswith(self.static_prefix)
        cache = b"public, max-age=31536000, immutable" if static else b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS} | {b"cache-control"}
                headers = [(k, v) for k, v in message.get("headers", []) if k not in names]
                headers.extend(SECURITY_HEADERS)
                headers.append((b"cache-control", cache))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """At most ``limit`` attempts per key in a sliding ``window`` (seconds), in this process.

    Used for sign-in attempts per address. With several bot processes each
    counts its own; the tokens' 256 bits are what really stops guessing.
    """

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle keys so memory stays bounded
            for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[stale]
        return True

"""A tiny HTTP/1.1 server on 127.0.0.1 for fetch tests: fixed answers, stalls, endless bodies.

Only loopback, only what a test registers; every connection is closed when the server
stops, stalled ones included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

Route = Callable[[asyncio.StreamWriter], Awaitable[None]]


def respond(
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
    declare_length: bool = True,
) -> Route:
    async def route(writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", "Connection: close"]
        if declare_length:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()

    return route


def redirect(location: str) -> Route:
    return respond(b"", status=302, headers={"Location": location})


def stall() -> Route:
    """Accept the connection, read the request, never answer."""

    async def route(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    return route


def endless(chunk: bytes = b"\x89PNG\r\n\x1a\n" + b"\x00" * 65536, *, pause: float = 0.0) -> Route:
    """A 200 answer with a chunked body that never ends (``pause`` seconds between chunks)."""

    async def route(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        while True:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)

    return route


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            parts = request.split()
            path = parts[1].decode() if len(parts) > 1 else "/"
            self.requests.append(path)
            route = self.routes.get(path, respond(b"not found", status=404))
            await route(writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

"""WebSocket frames written in one turn of the event loop, sent with one system call.

uvicorn writes every outgoing WebSocket frame to its socket at once: one
``send`` system call per API call the bot makes (a deletion, a notice, a mute
and its check...). On loopback, where NapCat usually runs, that call also does
the kernel's delivery work, and under a raid's load it was about 15% of the
event loop's time (``make bench-qq-raid``, py-spy). :class:`CoalescingTransport`
wraps a connection's transport: frames written while the loop runs its ready
callbacks are joined and sent when that turn ends (``loop.call_soon``), so a
busy turn's dozen frames cost one system call, and a lone frame waits only for
the callbacks already queued. Order is kept; closing sends what is buffered
first; everything else is the wrapped transport's.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """A transport whose writes of one loop turn go out as one (see the module doc)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self.writes = 0  # frames written to us
        self.flushes = 0  # writes made to the socket's transport

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.writes += 1
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send what was written since the last flush (nothing once the transport closes)."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self.flushes += 1
            self._transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...
        return getattr(self._transport, name)

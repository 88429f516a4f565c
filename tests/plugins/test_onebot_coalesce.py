"""Frames written in one loop turn go out in one write (plugins.onebot_guard.coalesce), and
uvicorn's WebSocket protocol gets the wrapper (plugins.onebot_guard.patches)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.


class Recording:
    """The socket side: what was written, in which calls."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.calls.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def wrapped() -> tuple[Any, Recording]:
    from plugins.onebot_guard.coalesce import CoalescingTransport

    inner = Recording()
    return CoalescingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_the_frames_of_one_turn_go_out_together_in_order() -> None:
    transport, inner = wrapped()
    for frame in (b"a", b"", b"bc", b"d"):
        transport.write(frame)
    assert inner.calls == []  # nothing before the turn ends
    await asyncio.sleep(0)
    assert inner.calls == [b"abcd"]
    transport.write(b"e")
    await asyncio.sleep(0)
    assert inner.calls == [b"abcd", b"e"]
    assert (transport.writes, transport.flushes) == (4, 2)


async def test_closing_sends_what_is_buffered_first_and_later_frames_are_dropped() -> None:
    transport, inner = wrapped()
    transport.write(b"last words")
    transport.close()
    assert inner.calls == [b"last words"] and inner.closed
    transport.write(b"too late")
    await asyncio.sleep(0)
    assert inner.calls == [b"last words"]


async def test_abort_drops_the_buffer_and_other_calls_reach_the_transport() -> None:
    transport, inner = wrapped()
    transport.write(b"x")
    transport.abort()
    await asyncio.sleep(0)
    assert inner.calls == [] and inner.aborted
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
    assert transport.is_closing()


async def test_uvicorns_websocket_protocol_keeps_the_wrapper() -> None:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    from plugins.onebot_guard import patches
    from plugins.onebot_guard.coalesce import CoalescingTransport

    patches.coalesce_websocket_writes()  # the plugin did already when it loaded: a no-op
    assert not patches.coalesce_websocket_writes()
    protocol = object.__new__(WebSocketsSansIOProtocol)
    protocol.connections = set()
    protocol.logger = logging.getLogger("test")
    inner = Recording()
    protocol.connection_made(inner)  # type: ignore[arg-type]
    assert isinstance(protocol.transport, CoalescingTransport)
    protocol.transport.write(b"frame")
    await asyncio.sleep(0)
    assert inner.calls == [b"frame"]

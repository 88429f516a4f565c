"""OneBot API calls on an account's WebSocket without nonebot's per-call machinery.

A moderation action is several API calls (delete, notice, mute and its check,
removal and its check). Through ``Bot.call_api`` each one also runs nonebot's
calling/called hooks, formats a DEBUG log line whatever the log level, and waits
on the adapter's result store under ``asyncio.wait_for`` (a second timeout beside
the one :class:`~.accounts.Accounts` already keeps). :class:`ApiLane` sends the
same frame (``{"action", "params", "echo"}``, encoded as the adapter encodes it)
on the same connection and resolves the answer itself: the adapter's frame
parser (:func:`.intake.read_frame`) hands it every answer whose ``echo`` is one
of the lane's (``gg:<n>``) before nonebot's result store sees them; any other
answer goes on as before. Failures read exactly as through the adapter
(``handle_api_result``: :class:`ActionFailed` with the implementation's retcode).

Used only on a live reverse WebSocket: a bot without one (nonebug's test bots,
an HTTP-only setup) goes through ``bot.call_api`` as before. Nothing here times
out on its own: the caller's timeout cancels the wait, and a dropped connection
ends the caller's wait through :class:`~.accounts.Accounts`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from nonebot.adapters.onebot.v11 import Adapter, Bot
from nonebot.adapters.onebot.v11.utils import handle_api_result
from nonebot.utils import DataclassEncoder

from plugins.onebot_guard.patches import require

PREFIX = "gg:"


class ApiLane:
    """Calls on the account's WebSocket, answers matched by ``echo`` (see the module doc)."""

    def __init__(self, adapter: Adapter) -> None:
        # The adapter's live connections by account (a private attribute of nonebot's
        # adapter): checked now, so an upgrade that reshapes it stops the plugin loading.
        require(adapter, "connections", lambda v: isinstance(v, dict), "a dict")
        self.adapter = adapter
        self._numbers = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.calls = 0  # made through the lane (for tests and the operator's curiosity)

    def serves(self, bot: Bot) -> bool:
        """Whether ``bot``'s calls can take the lane: its WebSocket is the adapter's now."""
        return bot.self_id in self.adapter.connections

    async def call(self, bot: Bot, api: str, params: dict[str, Any]) -> Any:
        """``api`` with ``params`` on ``bot``'s connection; its data, or ActionFailed
        (through ``bot.call_api`` when the adapter has no WebSocket of ``bot``'s)."""
        if not self.serves(bot):
            return await bot.call_api(api, **params)
        websocket = self.adapter.connections[bot.self_id]
        echo = f"{PREFIX}{next(self._numbers)}"
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[echo] = answer
        try:
            frame = json.dumps(
                {"action": api, "params": params, "echo": echo}, cls=DataclassEncoder
            )
            await websocket.send(frame)
            self.calls += 1
            return handle_api_result(await answer)
        finally:
            self._waiting.pop(echo, None)

    def answer(self, frame: dict[str, Any]) -> bool:
        """Take ``frame`` if it answers one of the lane's calls (True: nobody else needs it)."""
        echo = frame.get("echo")
        if type(echo) is not str or not echo.startswith(PREFIX):
            return False
        waiting = self._waiting.get(echo)
        if waiting is not None and not waiting.done():
            waiting.set_result(frame)
        return True  # ours (a late answer to a call given up on is dropped)

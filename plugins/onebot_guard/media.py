"""Private messages to officers on QQ: text, images and files.

Reports, digests (with their chart image) and exports reach an officer by
private message through whichever connected account can deliver: accounts that
share a group with the officer first, then the others. Sends are paced with
the group notices (:class:`~.throttle.Pacer`), since risk control counts both.

Images go as an ``image`` segment with ``base64://`` data. Files go through
``upload_private_file``: as ``base64://`` first, then from a temporary local
file (see :meth:`PrivateSender._upload`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from nonebot.adapters.onebot.v11 import ActionFailed, Bot, Message, MessageSegment

from plugins.onebot_guard.accounts import Accounts, GatewayError, describe, raw_id
from plugins.onebot_guard.throttle import Pacer

UPLOAD_TIMEOUT = 30.0  # an upload waits for QQ to take the file (nonebot's api_timeout too)


class PrivateSender:
    """Sends officers private messages, images and files through any connected account."""

    def __init__(self, accounts: Accounts, pacer: Pacer) -> None:
        self.accounts = accounts
        self.pacer = pacer

    async def send_private(self, user_id: str, text: str) -> None:
        """Send a private text message; raise if no account can."""
        message = Message(MessageSegment.text(text))
        await self._deliver(user_id, lambda bot, user: self._send_msg(bot, user, message))

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        """Send an image as an ``image`` segment with ``base64://`` data."""
        message = Message(MessageSegment.image(png))
        await self._deliver(user_id, lambda bot, user: self._send_msg(bot, user, message))

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        """Send a file (``upload_private_file``; see :meth:`_upload`)."""
        await self._deliver(user_id, lambda bot, user: self._upload(bot, user, name, data))

    async def _send_msg(self, bot: Bot, user: int, message: Message) -> None:
        await self.accounts.call(bot, "send_private_msg", user_id=user, message=message)

    async def _upload(self, bot: Bot, user: int, name: str, data: bytes) -> None:
        """Upload as ``base64://`` first, then from a temporary local file.

        NapCat and LLOneBot accept base64 wherever they run (another machine, a
        container); Lagrange.OneBot reads only a local path, which works when it
        shares this machine's file system. The file is removed after the call.
        """
        encoded = "base64://" + base64.b64encode(data).decode()
        try:
            await self._call_upload(bot, user, encoded, name)
            return
        except ActionFailed as exc:
            refused = describe(exc)
        with tempfile.TemporaryDirectory(prefix="groupguard-") as folder:
            os.chmod(folder, 0o711)  # the implementation may run as another user
            path = Path(folder) / name
            path.write_bytes(data)
            path.chmod(0o644)
            try:
                await self._call_upload(bot, user, str(path), name)
            except ActionFailed as exc:
                raise GatewayError(
                    f"upload refused as base64 ({refused}) and as a local file ({describe(exc)})"
                ) from None

    async def _call_upload(self, bot: Bot, user: int, file: str, name: str) -> None:
        await asyncio.wait_for(
            bot.call_api("upload_private_file", user_id=user, file=file, name=name),
            UPLOAD_TIMEOUT,
        )

    async def _deliver(self, user_id: str, send: Callable[[Bot, int], Awaitable[None]]) -> None:
        """Try ``send`` through each connected bot, those sharing a group with the user first."""
        user = raw_id(user_id)
        bots = self.accounts.connected()
        if not bots:
            raise RuntimeError("no QQ account connected")
        routes = self.accounts.routes
        near = {routes.server(g, frozenset(bots)) for g in routes.groups_with(user)}
        order = sorted(bots, key=lambda sid: sid not in near)  # accounts sharing a group first
        errors: list[str] = []
        for self_id in order:
            try:
                await self.pacer.slot(None)
                await send(bots[self_id], int(user))
                return
            except Exception as exc:
                errors.append(f"{self_id}: {describe(exc)}")
        raise RuntimeError("private message not delivered (" + "; ".join(errors) + ")")

"""WeChat work of processes without the connection, carried out by the one that has it.

Only the holder of the connection lease (``ownership``) talks to the gateway.
The rest of the bot in every process sees one WeChat gateway,
:class:`WechatEdge`: while this process holds the lease it is the local
:class:`~plugins.wechaty_guard.gateway.WechatyGateway`; otherwise it is a
:class:`RelayedGateway`, which sends each call through the shared state's relay
(``rules.shared_state.relay``) to the holder, where :class:`RelayDesk` runs it
on the local gateway and answers.

What travels: actions decided by this process's engine, jobs or commands (an
officer's private message on QQ can command a WeChat room), officer reports and
digests from the outbox (text, chart images, export files) and directory reads
(room lists, members, room info). A call that cannot be relayed (nobody holds
the lease, Redis unreachable, the holder failed, no answer in time) fails like
a local one would: ``perform`` returns a FAILED outcome, the others raise, so
the outbox retries and the executor records the failure. Nothing waits longer
than the relay timeout.

A gateway's capabilities are synchronous; the relayed gateway knows a room's
(whether the bot may remove members there) from the holder's answers about
that room, and until then declares only what WeChat always allows (warn,
remind), so a removal falls back to ``[fallbacks] kick`` as it does on the
holder before it knows the room. :meth:`WechatEdge.locate` (called by the
commands before a private command on a room) asks the holder first.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from plugins.wechaty_guard.gateway import ALWAYS, WechatyGateway, raw_id
from rules.core.model import Action, ActionKind, Member, Outcome, OutcomeStatus, Platform, Role
from rules.core.ports import GroupInfo
from rules.shared_state.relay import Message, Relay, RelayError

log = logging.getLogger("groupguard.wechaty")


# ---------------------------------------------------------------- wire format


def encode_action(action: Action) -> Message:
    return {
        "kind": action.kind.value,
        "group_id": action.group_id,
        "target_id": action.target_id,
        "message_id": action.message_id,
        "duration": action.duration.total_seconds() if action.duration is not None else None,
        "text": action.text,
        "block_rejoin": action.block_rejoin,
        "case_id": action.case_id,
    }


def decode_action(data: Message) -> Action:
    duration = data.get("duration")
    return Action(
        kind=ActionKind(data["kind"]),
        group_id=str(data["group_id"]),
        target_id=str(data["target_id"]),
        message_id=data.get("message_id"),
        duration=timedelta(seconds=float(duration)) if duration is not None else None,
        text=str(data.get("text") or ""),
        block_rejoin=bool(data.get("block_rejoin")),
        case_id=data.get("case_id"),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    return base64.b64decode(str(text))


# ---------------------------------------------------------------- the holder's side


class RelayDesk:
    """Answers relayed WeChat requests with this process's own gateway (the holder's)."""

    def __init__(self, gateway: WechatyGateway) -> None:
        self.gateway = gateway
        self._ops: dict[str, Callable[[Message], Awaitable[Message]]] = {
            "perform": self._perform,
            "send_private": self._send_private,
            "send_private_image": self._send_private_image,
            "send_private_file": self._send_private_file,
            "say": self._say,
            "list_groups": self._list_groups,
            "group_info": self._group_info,
            "list_members": self._list_members,
            "locate": self._locate,
        }
        self.answered = 0  # requests answered (diagnostics, tests)

    async def __call__(self, request: Message) -> Message:
        op = self._ops.get(str(request.get("op")))
        if op is None:
            raise ValueError(f"unknown WeChat relay request {request.get('op')!r}")
        reply = await op(request)
        self.answered += 1
        return reply

    def _caps(self, group_id: str) -> list[str]:
        return sorted(k.value for k in self.gateway.capabilities(group_id))

    async def _perform(self, request: Message) -> Message:
        action = decode_action(request["action"])
        try:
            outcome = await self.gateway.perform(action)
        except Exception as exc:  # as the executor records a local failure
            outcome = Outcome(action, OutcomeStatus.FAILED, f"{type(exc).__name__}: {exc}")
        return {
            "status": outcome.status.value,
            "detail": outcome.detail,
            "caps": self._caps(action.group_id),
        }

    async def _send_private(self, request: Message) -> Message:
        await self.gateway.send_private(str(request["user_id"]), str(request["text"]))
        return {}

    async def _send_private_image(self, request: Message) -> Message:
        await self.gateway.send_private_image(str(request["user_id"]), _unb64(request["png"]))
        return {}

    async def _send_private_file(self, request: Message) -> Message:
        user, name = str(request["user_id"]), str(request["name"])
        await self.gateway.send_private_file(user, name, _unb64(request["data"]))
        return {}

    async def _say(self, request: Message) -> Message:
        await self.gateway.say(str(request["group_id"]), str(request["text"]))
        return {}

    async def _list_groups(self, request: Message) -> Message:
        return {"groups": await self.gateway.list_groups()}

    async def _group_info(self, request: Message) -> Message:
        group_id = str(request["group_id"])
        info = await self.gateway.group_info(group_id)
        return {
            "name": info.name,
            "member_count": info.member_count,
            "bot_role": info.bot_role.value,
            "caps": self._caps(group_id),
        }

    async def _list_members(self, request: Message) -> Message:
        group_id = str(request["group_id"])
        members = await self.gateway.list_members(group_id)
        return {
            "members": [[m.id, m.card, m.nickname, m.role.value] for m in members],
            "caps": self._caps(group_id),
        }

    async def _locate(self, request: Message) -> Message:
        group_id = str(request["group_id"])
        await self.gateway.room_info(raw_id(group_id))
        return {"caps": self._caps(group_id)}


# ---------------------------------------------------------------- the others' side


class RelayedGateway:
    """The WeChat Gateway (and Directory, MediaSender) of a process without the connection."""

    platform = Platform.WECHAT

    def __init__(self, relay: Relay, lease: str, timeout: float) -> None:
        self.relay = relay
        self.lease = lease
        self.timeout = timeout
        self._caps: dict[str, frozenset[ActionKind]] = {}
        self.sent = 0  # requests answered by the holder (diagnostics, tests)

    async def _ask(self, body: Message, group_id: str | None = None) -> Message:
        reply = await self.relay.request(self.lease, body, self.timeout)
        self.sent += 1
        caps = reply.get("caps")
        if group_id is not None and isinstance(caps, list):
            self._caps[group_id] = frozenset(ActionKind(k) for k in caps)
        return reply

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        raw_id(group_id)  # refuses another platform's id, as the local gateway does
        return self._caps.get(group_id, ALWAYS)

    async def perform(self, action: Action) -> Outcome:
        try:
            reply = await self._ask(
                {"op": "perform", "action": encode_action(action)}, action.group_id
            )
        except RelayError as exc:
            return Outcome(action, OutcomeStatus.FAILED, f"WeChat (through the holder): {exc}")
        return Outcome(action, OutcomeStatus(reply["status"]), str(reply.get("detail") or ""))

    async def send_private(self, user_id: str, text: str) -> None:
        await self._ask({"op": "send_private", "user_id": user_id, "text": text})

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        await self._ask({"op": "send_private_image", "user_id": user_id, "png": _b64(png)})

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        body = {"op": "send_private_file", "user_id": user_id, "name": name, "data": _b64(data)}
        await self._ask(body)

    async def say(self, group_id: str, text: str) -> None:
        await self._ask({"op": "say", "group_id": group_id, "text": text})

    async def locate(self, group_id: str) -> None:
        await self._ask({"op": "locate", "group_id": group_id}, group_id)

    async def list_groups(self) -> list[str]:
        reply = await self._ask({"op": "list_groups"})
        return [str(g) for g in reply.get("groups") or ()]

    async def group_info(self, group_id: str) -> GroupInfo:
        reply = await self._ask({"op": "group_info", "group_id": group_id}, group_id)
        return GroupInfo(
            group_id=group_id,
            name=str(reply.get("name") or ""),
            member_count=int(reply.get("member_count") or 0),
            bot_role=Role(reply.get("bot_role") or Role.MEMBER.value),
        )

    async def list_members(self, group_id: str) -> list[Member]:
        reply = await self._ask({"op": "list_members", "group_id": group_id}, group_id)
        return [
            Member(str(i), card=str(card), nickname=str(nick), role=Role(role))
            for i, card, nick, role in reply.get("members") or ()
        ]


class WechatEdge:
    """The WeChat gateway the bot uses: local while this process holds the connection,
    relayed to the holder otherwise."""

    platform = Platform.WECHAT

    def __init__(
        self, local: WechatyGateway, remote: RelayedGateway, holds: Callable[[], bool]
    ) -> None:
        self.local = local
        self.remote = remote
        self.holds = holds

    @property
    def relayed(self) -> bool:
        return not self.holds()

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        if self.relayed:
            return self.remote.capabilities(group_id)
        return self.local.capabilities(group_id)

    async def perform(self, action: Action) -> Outcome:
        if self.relayed:
            return await self.remote.perform(action)
        return await self.local.perform(action)

    async def send_private(self, user_id: str, text: str) -> None:
        if self.relayed:
            await self.remote.send_private(user_id, text)
        else:
            await self.local.send_private(user_id, text)

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        if self.relayed:
            await self.remote.send_private_image(user_id, png)
        else:
            await self.local.send_private_image(user_id, png)

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        if self.relayed:
            await self.remote.send_private_file(user_id, name, data)
        else:
            await self.local.send_private_file(user_id, name, data)

    async def say(self, group_id: str, text: str) -> None:
        if self.relayed:
            await self.remote.say(group_id, text)
        else:
            await self.local.say(group_id, text)

    async def locate(self, group_id: str) -> None:
        """Learn the room (the bot's role there) before a command acts on it; best effort."""
        try:
            if self.relayed:
                await self.remote.locate(group_id)
            else:
                await self.local.room_info(raw_id(group_id))
        except Exception as exc:  # the command still runs; its actions fail if WeChat is away
            log.info("WeChat: room %s not located (%s)", group_id, exc)

    async def list_groups(self) -> list[str]:
        if self.relayed:
            return await self.remote.list_groups()
        return await self.local.list_groups()

    async def group_info(self, group_id: str) -> GroupInfo:
        if self.relayed:
            return await self.remote.group_info(group_id)
        return await self.local.group_info(group_id)

    async def list_members(self, group_id: str) -> list[Member]:
        if self.relayed:
            return await self.remote.list_members(group_id)
        return await self.local.list_members(group_id)

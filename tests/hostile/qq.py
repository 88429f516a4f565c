"""A OneBot v11 bot that records API calls as they would go over the wire, for markup checks."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from nonebot import get_adapter
from nonebot.adapters.onebot.v11 import Adapter, Bot
from nonebot.utils import DataclassEncoder

SEND_APIS = frozenset({"send_group_msg", "send_private_msg", "send_msg"})


@dataclass
class WireCall:
    api: str
    params: dict[str, Any]  # as JSON carries them (messages as lists of segments)


class RecordingBot(Bot):
    """A connected QQ account whose API calls are recorded, encoded as the adapter encodes them.

    The bot is an admin, everyone else a plain member; mutes take effect and
    kicks remove, so the gateway's checks pass and every action reaches its send.
    """

    def __init__(self, self_id: str = "10000", members: list[dict[str, Any]] | None = None) -> None:
        super().__init__(get_adapter(Adapter), self_id)
        self.wire: list[WireCall] = []
        self.members = list(members or [])  # get_group_member_list: {"user_id", "card", ...}

    async def call_api(self, api: str, **data: Any) -> Any:
        # What the adapter writes to the WebSocket: json.dumps(params, cls=DataclassEncoder).
        params = json.loads(json.dumps(data, cls=DataclassEncoder, ensure_ascii=False))
        self.wire.append(WireCall(api, params))
        user = str(params.get("user_id"))
        if api == "get_group_member_info":
            role = "admin" if user == self.self_id else "member"
            muted = int(time.time()) + 3600  # every member reads as muted (mutes verify)
            return {"role": role, "card": "", "nickname": "", "shut_up_timestamp": muted}
        if api == "get_group_member_list":
            return [{"role": "member", **m} for m in self.members]
        if api == "set_group_kick":
            self.members = [m for m in self.members if str(m["user_id"]) != user]
        if api in SEND_APIS:
            return {"message_id": len(self.wire)}
        return None

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # else Bot makes it an API call
        printer.text(repr(self))

    def sends(self) -> list[WireCall]:
        return [c for c in self.wire if c.api in SEND_APIS]


def assert_plain(call: WireCall, at: set[str] | None = None) -> list[str]:
    """The call sends only segments: text, a reply quote, and @s of ``at`` only.

    Returns the texts of its text segments.
    """
    message = call.params["message"]
    assert isinstance(message, list), f"{call.api} sent a string, not segments: {message!r}"
    texts = []
    for seg in message:
        kind, data = seg["type"], seg["data"]
        assert set(seg) == {"type", "data"}, seg
        if kind == "text":
            assert set(data) == {"text"} and isinstance(data["text"], str), seg
            texts.append(data["text"])
        elif kind == "at":
            assert at is not None and data == {"qq": data["qq"]} and data["qq"] in at, seg
        elif kind == "reply":
            assert set(data) == {"id"}, seg
        else:
            raise AssertionError(f"{call.api} sent a {kind!r} segment: {seg}")
    return texts

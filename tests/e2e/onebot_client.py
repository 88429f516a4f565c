"""A fake OneBot v11 implementation (what NapCat/Lagrange are) for end-to-end tests and benches.

It starts the real bot (``python bot.py --config ...``) in a subprocess, then
connects to it over the real reverse WebSocket with ``X-Self-ID`` and the
access token, simulates groups with members and roles, sends real-shaped
events and answers every API call from its simulated state, recording each
call with the time it arrived. It also keeps the messages it sent (``get_msg``, which
the adapter asks for a quoted message) and answers ``get_image`` from :attr:`FakeOneBot.images`
with a local path, as NapCat does when it runs on the bot's machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
SPAWN_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    directory: Path, port: int, token: str, words: dict[str, list[str]], extra: str = ""
) -> Path:
    """A bot config in ``directory``: loopback port, token, its own SQLite and word lists."""
    lists = directory / "words"
    lists.mkdir(exist_ok=True)
    for category, terms in words.items():
        (lists / f"{category}.txt").write_text("\n".join(terms) + "\n", encoding="utf-8")
    config = directory / "config.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[onebot]
access_token = "{token}"

[database]
url = "sqlite+aiosqlite:///{directory / "guard.db"}"

[keywords]
files = ["{lists}/*.txt"]

[escalation]
officers = ["qq:90001"]
batch_window = "1s"  # deliver reports almost at once (tests wait for them)
{extra}
""",
        encoding="utf-8",
    )
    return config


@dataclass
class Call:
    action: str
    params: dict[str, Any]
    at: float  # time.perf_counter() when the frame arrived
    self_id: str


@dataclass
class SimMember:
    user_id: int
    role: str = "member"
    card: str = ""
    nickname: str = ""
    shut_up_timestamp: int = 0


@dataclass
class SimGroup:
    group_id: int
    name: str = "测试群"
    members: dict[int, SimMember] = field(default_factory=dict)

    def add(self, user_id: int, role: str = "member", card: str = "", nickname: str = "") -> None:
        self.members[user_id] = SimMember(user_id, role, card, nickname or f"user{user_id}")


class FakeOneBot:
    """One QQ account: a reverse-WebSocket connection to the bot that answers every call."""

    def __init__(self, url: str, self_id: int, token: str, groups: list[SimGroup]) -> None:
        self.url = url
        self.self_id = self_id
        self.token = token
        self.groups = {g.group_id: g for g in groups}
        self.calls: list[Call] = []
        self.honest_mutes = True  # False: report set_group_ban success but do nothing
        self.on_call: Callable[[Call], None] | None = None
        # action -> (retcode, wording): the call fails so (e.g. QQ risk control: 1200)
        self.failing: dict[str, tuple[int, str]] = {}
        self.unanswered: Callable[[Call], bool] | None = None  # True: never answer the call
        self.images: dict[str, Path] = {}  # get_image: a segment's file name -> local file
        self.sent_messages: dict[int, dict[str, Any]] = {}  # get_msg: message id -> event
        # True: report the bot's own deletions, mutes and removals as NapCat does, with a
        # notice each (group_recall, group_ban, group_decrease) after the call's answer
        self.self_notices = False
        # message id -> (group, user) of messages pushed raw (send() keeps its events)
        self.senders: dict[int, tuple[int, int]] = {}
        self.own_notices = 0  # notices sent for the bot's own actions
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._message_ids = itertools.count(1_000_000)
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> FakeOneBot:
        headers = {"X-Self-ID": str(self.self_id), "Authorization": f"Bearer {self.token}"}
        self._ws = await connect(self.url, additional_headers=headers, max_size=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2)

    async def _read(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            frame = json.loads(raw)
            call = Call(frame["action"], frame.get("params") or {}, time.perf_counter(), "")
            call.self_id = str(self.self_id)
            self.calls.append(call)
            if self.on_call is not None:
                self.on_call(call)
            if self.unanswered is not None and self.unanswered(call):
                continue
            ok, data = self.answer(call)
            retcode = 0 if ok else 100
            if call.action in self.failing:
                ok, (retcode, data) = False, self.failing[call.action]
            reply = {
                "status": "ok" if ok else "failed",
                "retcode": retcode,
                "data": data,
                "echo": frame.get("echo"),
            }
            if not ok:
                reply["wording"] = str(data)
                reply["data"] = None
            await self._ws.send(json.dumps(reply, ensure_ascii=False))
            notice = self.own_notice(call) if ok and self.self_notices else None
            if notice is not None:
                self.own_notices += 1
                await self._ws.send(json.dumps(notice, ensure_ascii=False))
            self._arrived.set()

    # ------------------------------------------------------------------ answering

    def _member(self, params: dict[str, Any]) -> SimMember | None:
        group = self.groups.get(int(params.get("group_id", 0)))
        return group.members.get(int(params.get("user_id", 0))) if group else None

    def answer(self, call: Call) -> tuple[bool, Any]:
        p = call.params
        if call.action == "get_group_member_info":
            member = self._member(p)
            if member is None:
                return False, "member not found"
            return True, {"group_id": p["group_id"], **member.__dict__}
        if call.action == "get_group_member_list":
            group = self.groups.get(int(p["group_id"]))
            return True, [
                m.__dict__ | {"group_id": p["group_id"]} for m in group.members.values()
            ] if group else []
        if call.action == "set_group_ban":
            member = self._member(p)
            if member is not None and self.honest_mutes:
                duration = int(p.get("duration", 0))
                member.shut_up_timestamp = int(time.time()) + duration if duration else 0
            return True, None
        if call.action == "set_group_kick":
            group = self.groups.get(int(p["group_id"]))
            if group is None or group.members.pop(int(p["user_id"]), None) is None:
                return False, f"群成员{p['user_id']}不存在"  # as NapCat refuses
            return True, None
        if call.action in ("send_group_msg", "send_private_msg", "send_msg"):
            return True, {"message_id": next(self._message_ids)}
        if call.action == "get_group_info":
            group = self.groups.get(int(p["group_id"]))
            if group is None:
                return False, "group not found"
            return True, {
                "group_id": group.group_id,
                "group_name": group.name,
                "member_count": len(group.members),
            }
        if call.action == "get_group_list":
            return True, [{"group_id": g, "group_name": s.name} for g, s in self.groups.items()]
        if call.action == "get_msg":
            sent = self.sent_messages.get(int(p.get("message_id", 0)))
            if sent is None:
                return False, "message not found"
            return True, {
                "time": sent["time"],
                "message_type": sent["message_type"],
                "message_id": sent["message_id"],
                "real_id": sent["message_id"],
                "sender": sent["sender"],
                "message": sent["message"],
            }
        if call.action == "get_image":
            image = self.images.get(str(p.get("file", "")))
            if image is None:
                return False, "image not found"
            return True, {"file": str(image), "file_name": image.name, "url": ""}
        return True, None  # delete_msg, set_group_card, set_group_add_request, ...

    def own_notice(self, call: Call) -> dict[str, Any] | None:
        """The notice NapCat reports after the bot's own successful deletion, mute or
        removal (from QQ's recall push and the group's grey tips), else None."""
        p, me = call.params, self.self_id
        if call.action == "delete_msg":
            sender = self._sender(int(p.get("message_id", 0)))
            if sender is None:
                return None
            group, user = sender
            return self.notice(
                "group_recall", group, user, operator_id=me, message_id=int(p["message_id"])
            )
        if call.action == "set_group_ban":
            if not self.honest_mutes:  # nothing happened in the group: no grey tip
                return None
            duration = int(p.get("duration", 0))
            sub_type = "ban" if duration else "lift_ban"
            return self.notice(
                "group_ban",
                int(p["group_id"]),
                int(p["user_id"]),
                operator_id=me,
                duration=duration,
                sub_type=sub_type,
            )
        if call.action == "set_group_kick":
            group, user = int(p["group_id"]), int(p["user_id"])
            return self.notice("group_decrease", group, user, operator_id=me, sub_type="kick")
        return None

    def _sender(self, message_id: int) -> tuple[int, int] | None:
        """(group, user) of a group message this client pushed, if it knows it."""
        event = self.sent_messages.get(message_id)
        if event is not None and event.get("message_type") == "group":
            return event["group_id"], event["user_id"]
        return self.senders.get(message_id)

    # ------------------------------------------------------------------ events

    async def send(self, event: dict[str, Any]) -> float:
        """Push one event; return the perf_counter time it was sent."""
        if event.get("post_type") == "message" and isinstance(event.get("message_id"), int):
            self.sent_messages[event["message_id"]] = event
        return await self.send_raw(json.dumps(event, ensure_ascii=False))

    async def send_raw(self, payload: str) -> float:
        """Push one event already encoded as JSON; return the perf_counter time it was sent."""
        assert self._ws is not None
        sent = time.perf_counter()
        await self._ws.send(payload)
        return sent

    def base(self, post_type: str) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": post_type}

    def message(
        self, group_id: int, user_id: int, segments: list[dict[str, Any]], message_id: int
    ) -> dict[str, Any]:
        member = self.groups[group_id].members[user_id]
        sender = {"nickname": member.nickname, "card": member.card, "role": member.role}
        return group_message_event(self.self_id, group_id, user_id, segments, message_id, sender)

    def notice(self, notice_type: str, group_id: int, user_id: int, **extra: Any) -> dict[str, Any]:
        return self.base("notice") | {
            "notice_type": notice_type,
            "group_id": group_id,
            "user_id": user_id,
            **extra,
        }

    async def wait_for(
        self, predicate: Callable[[Call], bool], within: float = 5.0, start: int = 0
    ) -> Call:
        """The first call from index ``start`` matching ``predicate``; TimeoutError if none."""
        deadline = time.monotonic() + within
        while True:
            for call in self.calls[start:]:
                if predicate(call):
                    return call
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching call within {within}s; got {self.calls[start:]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))

    async def quiet(self, seconds: float) -> None:
        """Let in-flight handling finish (used to assert that nothing was called)."""
        await asyncio.sleep(seconds)


def is_call(action: str, **params: Any) -> Callable[[Call], bool]:
    """A predicate: the call is ``action`` with at least these parameters."""

    def check(call: Call) -> bool:
        return call.action == action and all(call.params.get(k) == v for k, v in params.items())

    return check


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "data": {"text": value}}]


def group_message_event(
    self_id: int, group_id: int, user_id: int, segments: Any, message_id: int, sender: Any
) -> dict[str, Any]:
    """A OneBot v11 group message event as NapCat posts it (``segments`` and ``sender`` as given;
    a dict ``sender`` gets the ``user_id``)."""
    parts = segments if isinstance(segments, list) else []
    raw = "".join(
        str(s["data"].get("text", ""))
        for s in parts
        if isinstance(s, dict) and s.get("type") == "text" and isinstance(s.get("data"), dict)
    )
    return {
        "time": int(time.time()),
        "self_id": self_id,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": message_id,
        "group_id": group_id,
        "user_id": user_id,
        "message": segments,
        "raw_message": raw,
        "font": 0,
        "sender": {"user_id": user_id, **sender} if isinstance(sender, dict) else sender,
    }


async def wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    """Wait until ``proc`` accepts connections on ``port``; raise if it exits or takes too long."""
    deadline = time.monotonic() + SPAWN_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
            writer.close()
            return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args} did not listen within {SPAWN_TIMEOUT}s") from None
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_bot(
    config: Path, port: int, log_path: Path, env: dict[str, str] | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``python bot.py --config CONFIG`` in a subprocess, up and listening; always killed.

    ``env`` adds environment variables (e.g. nonebot's ``LOG_LEVEL``).
    """
    log = log_path.open("wb")
    env = os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {})
    proc = subprocess.Popen(  # noqa: ASYNC220 (Popen returns at once; we poll below)
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config)],
        cwd=str(ROOT),  # nonebot names plugin modules relative to the working directory
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        try:
            await wait_listening(proc, port)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log: {log_path}") from None
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()

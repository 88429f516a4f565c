"""A fake Wechaty puppet service: a grpclib server speaking ``wechaty.Puppet`` on loopback.

betterproto 1.x generates client stubs only, so the server side is a plain
object whose ``__mapping__`` lists one grpclib handler per RPC the python-wechaty
client uses. The test drives it: it holds contacts and rooms, posts messages
and joins as events, records what the bot sent or removed, and can drop its
connections (``stop``/``start``) or hang (``hang``/``unhang``). Pictures and
emoticons are posted with a file box (JSON, as the puppet service sends it) that
``MessageImage`` / ``MessageFile`` return.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from grpclib.const import Cardinality, Handler
from grpclib.server import Server, Stream
from wechaty_grpc.wechaty import puppet as pb

# TypeScript puppet numbering, which the client remaps (see PLATFORMS.md).
TS_EMOTICON = 5
TS_IMAGE = 6
TS_TEXT = 7
TS_MINI_PROGRAM = 9
TS_URL = 14


def base64_box(data: bytes, name: str) -> dict[str, Any]:
    """A file box holding ``data`` as base64, as the puppet service serialises one."""
    return {"boxType": 2, "name": name, "base64": base64.b64encode(data).decode()}


def url_box(url: str, name: str) -> dict[str, Any]:
    """A file box pointing at ``url``."""
    return {"boxType": 1, "name": name, "remoteUrl": url}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeRoom:
    id: str
    topic: str
    owner_id: str
    admin_ids: list[str] = field(default_factory=list)
    member_ids: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)


class FakePuppetService:
    """State and RPC handlers; ``start``/``stop`` run the grpclib server."""

    def __init__(self, self_id: str = "wxid_bot") -> None:
        self.self_id = self_id
        self.port = free_port()
        self.contacts: dict[str, str] = {self_id: "群卫士"}  # id -> name
        self.rooms: dict[str, FakeRoom] = {}
        self.messages: dict[str, pb.MessagePayloadResponse] = {}
        self.url_links: dict[str, dict[str, str]] = {}
        self.mini_programs: dict[str, dict[str, str]] = {}
        self.file_boxes: dict[str, dict[str, Any]] = {}  # message id -> file box JSON
        self.calls: list[str] = []
        self.sent: list[pb.MessageSendTextRequest] = []
        self.removed: list[tuple[str, str]] = []
        self.dings = 0
        self.starts = 0
        self._ids = count(1)
        self._streams: list[asyncio.Queue[pb.EventResponse | None]] = []
        self._unhung = asyncio.Event()
        self._unhung.set()
        self._server: Server | None = None
        self._protocols: list[Any] = []

    # ------------------------------------------------------------ test controls

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = Server([self])
        make_protocol = server._protocol_factory

        def tracking_factory() -> Any:
            protocol = make_protocol()
            self._protocols.append(protocol)
            return protocol

        server._protocol_factory = tracking_factory  # type: ignore[method-assign]
        await server.start("127.0.0.1", self.port)
        self._server = server

    async def stop(self) -> None:
        """Drop every connection, as a crashed or restarted gateway would."""
        for queue in self._streams:
            queue.put_nowait(None)
        self._streams.clear()
        if self._server is not None:
            self._server.close()
            for protocol in self._protocols:  # a crash: connections reset, not drained
                transport = getattr(getattr(protocol, "connection", None), "_transport", None)
                if transport is not None:
                    transport.abort()
            self._protocols.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def hang(self) -> None:
        """Keep connections open but answer nothing and send no events."""
        self._unhung.clear()

    def unhang(self) -> None:
        self._unhung.set()

    @property
    def streams(self) -> int:
        return len(self._streams)

    def add_contact(self, contact_id: str, name: str) -> None:
        self.contacts[contact_id] = name

    def add_room(
        self,
        room_id: str,
        topic: str,
        members: dict[str, str],
        owner_id: str | None = None,
        admin_ids: list[str] | None = None,
    ) -> FakeRoom:
        """``members`` maps contact id -> room alias ("" when unset)."""
        room = FakeRoom(
            room_id,
            topic,
            owner_id or self.self_id,
            admin_ids or [],
            [self.self_id, *members],
            dict(members),
        )
        self.rooms[room_id] = room
        return room

    def push(self, event_type: pb.EventType, payload: dict[str, Any]) -> None:
        response = pb.EventResponse(type=event_type, payload=json.dumps(payload))
        for queue in self._streams:
            queue.put_nowait(response)

    def post_text(
        self,
        room_id: str,
        talker_id: str,
        text: str,
        message_id: str = "",
        mention_ids: list[str] | None = None,
    ) -> str:
        return self._post(room_id, talker_id, TS_TEXT, text, message_id, mention_ids=mention_ids)

    def post_private(self, talker_id: str, text: str) -> str:
        return self._post("", talker_id, TS_TEXT, text, "", to_id=self.self_id)

    def post_url(self, room_id: str, talker_id: str, url: str, title: str) -> str:
        message_id = self._post(room_id, talker_id, TS_URL, title, "")
        self.url_links[message_id] = {"url": url, "title": title, "description": ""}
        return message_id

    def post_mini_program(self, room_id: str, talker_id: str, appid: str, title: str) -> str:
        message_id = self._post(room_id, talker_id, TS_MINI_PROGRAM, title, "")
        self.mini_programs[message_id] = {"appid": appid, "title": title, "pagePath": "pages/a"}
        return message_id

    def post_image(self, room_id: str, talker_id: str, data: bytes, name: str = "a.jpg") -> str:
        """A picture message; ``MessageImage`` answers a base64 file box of ``data``."""
        return self.post_file_box(room_id, talker_id, TS_IMAGE, base64_box(data, name))

    def post_file_box(
        self, room_id: str, talker_id: str, ts_type: int, box: dict[str, Any], text: str = ""
    ) -> str:
        """A picture (``TS_IMAGE``) or emoticon (``TS_EMOTICON``) message with its file box."""
        message_id = f"msg-{next(self._ids)}"
        self.file_boxes[message_id] = box
        return self._post(room_id, talker_id, ts_type, text, message_id)

    def join(self, room_id: str, contact_id: str, name: str, alias: str = "") -> None:
        self.add_contact(contact_id, name)
        room = self.rooms[room_id]
        room.member_ids.append(contact_id)
        room.aliases[contact_id] = alias
        self.push(
            pb.EventType.EVENT_TYPE_ROOM_JOIN,
            {
                "roomId": room_id,
                "inviteeIdList": [contact_id],
                "inviterId": room.owner_id,
                "timestamp": int(time.time()),
            },
        )

    def texts_to(self, conversation_id: str) -> list[pb.MessageSendTextRequest]:
        return [s for s in self.sent if s.conversation_id == conversation_id]

    async def wait_until(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Poll ``condition`` until true; AssertionError after ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met in {within}s; calls: {self.calls[-12:]}")
            await asyncio.sleep(0.01)

    def _post(
        self,
        room_id: str,
        talker_id: str,
        ts_type: int,
        text: str,
        message_id: str,
        to_id: str = "",
        mention_ids: list[str] | None = None,
    ) -> str:
        message_id = message_id or f"msg-{next(self._ids)}"
        self.messages[message_id] = pb.MessagePayloadResponse(
            id=message_id,
            text=text,
            timestamp=int(time.time()),
            type=ts_type,  # type: ignore[arg-type]
            from_id=talker_id,
            room_id=room_id,
            to_id=to_id,
            mention_ids=mention_ids or [],
        )
        self.push(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        return message_id

    # ------------------------------------------------------------ RPC handlers

    async def _unary(
        self, name: str, stream: Stream[Any, Any], reply: Callable[[Any], Any]
    ) -> None:
        request = await stream.recv_message()
        self.calls.append(name)
        await self._unhung.wait()
        await stream.send_message(reply(request))

    async def _stop(self, stream: Stream[Any, Any]) -> None:
        await self._unary("Stop", stream, lambda r: pb.StopResponse())

    async def _start(self, stream: Stream[Any, Any]) -> None:
        def reply(request: Any) -> pb.StartResponse:
            self.starts += 1
            return pb.StartResponse()

        await self._unary("Start", stream, reply)

    async def _ding(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.DingRequest) -> pb.DingResponse:
            self.dings += 1
            self.push(pb.EventType.EVENT_TYPE_DONG, {"data": request.data})
            return pb.DingResponse()

        await self._unary("Ding", stream, reply)

    async def _event(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        self.calls.append("Event")
        await self._unhung.wait()
        queue: asyncio.Queue[pb.EventResponse | None] = asyncio.Queue()
        self._streams.append(queue)
        login = {"contactId": self.self_id}
        await stream.send_message(
            pb.EventResponse(type=pb.EventType.EVENT_TYPE_LOGIN, payload=json.dumps(login))
        )
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                await self._unhung.wait()
                await stream.send_message(item)
        finally:
            if queue in self._streams:
                self._streams.remove(queue)

    async def _contact_payload(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.ContactPayloadRequest) -> pb.ContactPayloadResponse:
            return pb.ContactPayloadResponse(
                id=request.id,
                name=self.contacts.get(request.id, request.id),
                type=pb.ContactType.CONTACT_TYPE_PERSONAL,
                friend=True,
            )

        await self._unary("ContactPayload", stream, reply)

    async def _message_payload(self, stream: Stream[Any, Any]) -> None:
        await self._unary("MessagePayload", stream, lambda r: self.messages[r.id])

    async def _message_url(self, stream: Stream[Any, Any]) -> None:
        await self._unary(
            "MessageUrl",
            stream,
            lambda r: pb.MessageUrlResponse(url_link=json.dumps(self.url_links[r.id])),
        )

    async def _message_mini_program(self, stream: Stream[Any, Any]) -> None:
        await self._unary(
            "MessageMiniProgram",
            stream,
            lambda r: pb.MessageMiniProgramResponse(
                mini_program=json.dumps(self.mini_programs[r.id])
            ),
        )

    async def _message_image(self, stream: Stream[Any, Any]) -> None:
        await self._unary(
            "MessageImage",
            stream,
            lambda r: pb.MessageImageResponse(filebox=json.dumps(self.file_boxes[r.id])),
        )

    async def _message_file(self, stream: Stream[Any, Any]) -> None:
        await self._unary(
            "MessageFile",
            stream,
            lambda r: pb.MessageFileResponse(filebox=json.dumps(self.file_boxes[r.id])),
        )

    async def _room_payload(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.RoomPayloadRequest) -> pb.RoomPayloadResponse:
            room = self.rooms[request.id]
            return pb.RoomPayloadResponse(
                id=room.id,
                topic=room.topic,
                owner_id=room.owner_id,
                admin_ids=list(room.admin_ids),
                member_ids=list(room.member_ids),
            )

        await self._unary("RoomPayload", stream, reply)

    async def _room_member_payload(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.RoomMemberPayloadRequest) -> pb.RoomMemberPayloadResponse:
            room = self.rooms[request.id]
            return pb.RoomMemberPayloadResponse(
                id=request.member_id,
                room_alias=room.aliases.get(request.member_id, ""),
                name=self.contacts.get(request.member_id, ""),
            )

        await self._unary("RoomMemberPayload", stream, reply)

    async def _room_member_list(self, stream: Stream[Any, Any]) -> None:
        await self._unary(
            "RoomMemberList",
            stream,
            lambda r: pb.RoomMemberListResponse(member_ids=list(self.rooms[r.id].member_ids)),
        )

    async def _room_list(self, stream: Stream[Any, Any]) -> None:
        await self._unary("RoomList", stream, lambda r: pb.RoomListResponse(ids=list(self.rooms)))

    async def _message_send_text(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.MessageSendTextRequest) -> pb.MessageSendTextResponse:
            self.sent.append(request)
            return pb.MessageSendTextResponse()

        await self._unary("MessageSendText", stream, reply)

    async def _room_del(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.RoomDelRequest) -> pb.RoomDelResponse:
            room = self.rooms[request.id]
            if request.contact_id in room.member_ids:
                room.member_ids.remove(request.contact_id)
            self.removed.append((request.id, request.contact_id))
            self.push(
                pb.EventType.EVENT_TYPE_ROOM_LEAVE,
                {
                    "roomId": request.id,
                    "removeeIdList": [request.contact_id],
                    "removerId": self.self_id,
                    "timestamp": int(time.time()),
                },
            )
            return pb.RoomDelResponse()

        await self._unary("RoomDel", stream, reply)

    def __mapping__(self) -> dict[str, Handler]:
        unary = Cardinality.UNARY_UNARY
        table: list[tuple[str, Any, Cardinality, type[Any], type[Any]]] = [
            ("Stop", self._stop, unary, pb.StopRequest, pb.StopResponse),
            ("Start", self._start, unary, pb.StartRequest, pb.StartResponse),
            ("Ding", self._ding, unary, pb.DingRequest, pb.DingResponse),
            ("Event", self._event, Cardinality.UNARY_STREAM, pb.EventRequest, pb.EventResponse),
            (
                "ContactPayload",
                self._contact_payload,
                unary,
                pb.ContactPayloadRequest,
                pb.ContactPayloadResponse,
            ),
            (
                "MessagePayload",
                self._message_payload,
                unary,
                pb.MessagePayloadRequest,
                pb.MessagePayloadResponse,
            ),
            ("MessageUrl", self._message_url, unary, pb.MessageUrlRequest, pb.MessageUrlResponse),
            (
                "MessageMiniProgram",
                self._message_mini_program,
                unary,
                pb.MessageMiniProgramRequest,
                pb.MessageMiniProgramResponse,
            ),
            (
                "MessageImage",
                self._message_image,
                unary,
                pb.MessageImageRequest,
                pb.MessageImageResponse,
            ),
            (
                "MessageFile",
                self._message_file,
                unary,
                pb.MessageFileRequest,
                pb.MessageFileResponse,
            ),
            (
                "RoomPayload",
                self._room_payload,
                unary,
                pb.RoomPayloadRequest,
                pb.RoomPayloadResponse,
            ),
            (
                "RoomMemberPayload",
                self._room_member_payload,
                unary,
                pb.RoomMemberPayloadRequest,
                pb.RoomMemberPayloadResponse,
            ),
            (
                "RoomMemberList",
                self._room_member_list,
                unary,
                pb.RoomMemberListRequest,
                pb.RoomMemberListResponse,
            ),
            ("RoomList", self._room_list, unary, pb.RoomListRequest, pb.RoomListResponse),
            (
                "MessageSendText",
                self._message_send_text,
                unary,
                pb.MessageSendTextRequest,
                pb.MessageSendTextResponse,
            ),
            ("RoomDel", self._room_del, unary, pb.RoomDelRequest, pb.RoomDelResponse),
        ]
        return {
            f"/wechaty.Puppet/{name}": Handler(func, cardinality, request, reply)
            for name, func, cardinality, request, reply in table
        }

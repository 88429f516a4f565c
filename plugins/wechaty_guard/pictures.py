"""Pictures in WeChat messages: which messages are pictures, and their bytes.

An image message (``MessageType`` image) and an emoticon (sticker) message become
one :class:`~rules.core.model.ImageRef` each (:meth:`WechatPictures.picture_of`); the
bridge puts it
in the message's :class:`~rules.core.model.ChatEvent` and, once the engine has
decided on the message, the service hands it to the picture path
(``runtime.pictures``), which fetches it with :meth:`WechatPictures.fetch` in the
background.

The bytes come from the puppet service as a file box (``MessageImage`` for
pictures, HD size, else the thumbnail; ``MessageFile`` for emoticons). The file
box's JSON is read here rather than with python-wechaty's ``FileBox.from_json``,
which downloads a URL box without a name synchronously (it would block the event
loop). A base64 box is decoded (its size checked first); a URL box is fetched over
HTTP(S) only, within the size limit. An emoticon's message text (XML) usually
names its picture on WeChat's CDN (``cdnurl``): the fallback when the puppet
cannot give the file. A box's ``remoteUrl`` and a ``cdnurl`` come from the message,
which its sender wrote: they are fetched from public addresses only, unless
``[images] fetch_private`` is on. Each RPC is under the supervisor's deadline, the whole
fetch under ``[images] fetch_timeout``; failures raise
:class:`~rules.images.fetch.ImageFetchError` saying why.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from wechaty_grpc.wechaty.puppet import ImageType, MessageType

from plugins.wechaty_guard.supervisor import WechatySupervisor
from rules.config import ImageSettings
from rules.core.model import ImageKind, ImageRef
from rules.images.fetch import FetchFailure, FetchPolicy, ImageFetchError, fetch_image

KINDS = {
    MessageType.MESSAGE_TYPE_IMAGE: ImageKind.IMAGE,
    MessageType.MESSAGE_TYPE_EMOTICON: ImageKind.STICKER,
}
_EMOTICON_URL = re.compile(r"""\bcdnurl\s*=\s*["'](https?://[^"']+)["']""", re.I)
_EMOTICON_MD5 = re.compile(r"""\bmd5\s*=\s*["']([0-9a-fA-F]{32})["']""")
BOX_BASE64, BOX_URL = 2, 1  # file-box "boxType" values (wechaty_puppet.file_box.type)
REMEMBERED_URLS = 1000  # emoticons' CDN links kept for their fetch (message id -> URL)


class WechatPictures:
    """Finds and fetches pictures of WeChat messages through the supervised puppet."""

    def __init__(
        self, supervisor: WechatySupervisor, settings: Callable[[], ImageSettings]
    ) -> None:
        self.supervisor = supervisor
        self.settings = settings  # read per picture: the config can be reloaded
        self._cdn: OrderedDict[str, str] = OrderedDict()  # message id -> emoticon URL

    def picture_of(self, message_id: str, kind: Any, text: str) -> ImageRef | None:
        """The picture an image or emoticon message carries (None for other kinds).

        ``key``: the emoticon's MD5 when its XML names one (the same sticker sent again
        costs nothing), else the message id; ``source``: the message id, which the
        fetcher asks the puppet about.
        """
        image_kind = KINDS.get(kind)
        if image_kind is None or not message_id:
            return None
        key = f"wechat:{message_id}"
        if image_kind is ImageKind.STICKER:
            xml = html.unescape(text or "")
            md5 = _EMOTICON_MD5.search(xml)
            if md5:
                key = f"wechat-emoticon:{md5.group(1).lower()}"
            cdn = _EMOTICON_URL.search(xml)
            if cdn:
                self._cdn[message_id] = cdn.group(1)
                while len(self._cdn) > REMEMBERED_URLS:
                    self._cdn.popitem(last=False)
        return ImageRef(key, message_id, image_kind)

    async def fetch(self, ref: ImageRef) -> bytes:
        """The bytes of ``ref``; raises :class:`ImageFetchError` saying why not."""
        settings = self.settings()
        limit = settings.fetch_timeout.total_seconds()
        reasons: list[str] = []
        try:
            async with asyncio.timeout(limit):
                for box in await self._boxes(ref, reasons):
                    data = await self._open(box, settings, reasons)
                    if data is not None:
                        return data
                cdn = self._cdn.get(ref.source)
                if cdn is not None:
                    box = {"boxType": BOX_URL, "remoteUrl": cdn}
                    data = await self._open(box, settings, reasons)
                    if data is not None:
                        return data
        except TimeoutError:
            reasons.append(f"no picture within {limit:g} s")
        raise ImageFetchError("; ".join(reasons) or "the puppet gave no picture")

    async def _boxes(self, ref: ImageRef, reasons: list[str]) -> list[dict[str, Any]]:
        """The file boxes the puppet gives for the message (the first that opens is used)."""
        stub = self.supervisor.puppet.puppet_stub
        asks: list[tuple[str, Any]]
        if ref.kind is ImageKind.STICKER:
            asks = [("MessageFile", lambda: stub.message_file(id=ref.source))]
        else:
            asks = [
                (
                    f"MessageImage {size.name}",
                    lambda size=size: stub.message_image(id=ref.source, type=size),
                )
                for size in (ImageType.IMAGE_TYPE_HD, ImageType.IMAGE_TYPE_THUMBNAIL)
            ]
        boxes: list[dict[str, Any]] = []
        for what, ask in asks:
            try:
                response = await self.supervisor.call(ask(), what)
                box = json.loads(response.filebox)
            except Exception as exc:  # not connected, no answer, a puppet that cannot
                reasons.append(f"{what}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(box, dict):
                boxes.append(box)
                break  # a box was given: open it before asking for a smaller one
        return boxes

    async def _open(
        self, box: dict[str, Any], settings: ImageSettings, reasons: list[str]
    ) -> bytes | None:
        kind = box.get("boxType", box.get("type"))
        if kind == BOX_BASE64 and isinstance(box.get("base64"), str):
            source = "base64://" + box["base64"]
        elif kind == BOX_URL and isinstance(box.get("remoteUrl"), str):
            source = box["remoteUrl"]
            if not source.startswith(("http://", "https://")):
                reasons.append("file box URL is not http(s)")
                return None
        else:
            reasons.append(f"file box of type {kind!r} cannot be read")
            return None
        policy = FetchPolicy(
            max_bytes=settings.max_bytes,
            timeout=settings.fetch_timeout.total_seconds(),
            allow_local=False,
            allow_private=settings.fetch_private,
        )
        found = await fetch_image(source, policy=policy)
        if isinstance(found, FetchFailure):
            reasons.append(f"file box: {found.reason.value}: {found.detail}")
            return None
        return found.data

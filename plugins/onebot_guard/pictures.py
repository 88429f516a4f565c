"""Pictures in QQ messages: their bytes, fetched the way the implementation offers.

:mod:`.translate` turns image segments, market stickers and card previews into
:class:`~rules.core.model.ImageRef` values (``key``: the segment's ``file``, which
QQ makes the MD5 of the picture; ``source``: its URL). After moderation has decided
on a message's text, :mod:`.intake` hands the message to the picture path
(:meth:`rules.moderation.pictures.Pictures.submit`) with a fetcher from here.

How a picture's bytes are had, best first:

1. ``get_image`` with the segment's ``file`` (NapCat, Lagrange, LLOneBot, go-cqhttp).
   The answer's ``file`` is a local path when the implementation runs on this
   machine (it has the picture already: no download at all); it may carry
   ``base64`` instead, or a ``url``. An account that does not know the action
   (retcode 1404) is not asked again.
2. The segment's ``url``: QQ's CDN link, given by the platform.

A segment's URL, and all that card previews and market stickers have, is written
in the message, so whoever sent it chose it: those are fetched over HTTP(S) only,
never as local files, and only from public addresses unless ``[images]
fetch_private`` is on (no requests to this machine, the LAN or cloud metadata on a
member's say-so). What ``get_image`` answers comes from the implementation itself
and is trusted: its local path, its base64, its URL. Every way is bounded by
``[images] max_bytes`` and ``fetch_timeout`` for the whole fetch, and the bytes are
sniffed (an HTML error page is not a picture).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from nonebot.adapters.onebot.v11 import ActionFailed, Bot

from plugins.onebot_guard.accounts import Accounts, describe
from plugins.onebot_guard.translate import INLINE_KEY, MFACE_KEY
from rules.config import ImageSettings
from rules.core.model import ImageRef
from rules.images.fetch import FetchFailure, FetchPolicy, ImageFetchError, fetch_image
from rules.images.stage import Fetcher

log = logging.getLogger(__name__)

UNSUPPORTED = 1404  # OneBot's retcode for an action the implementation does not have


def _platform_key(ref: ImageRef) -> bool:
    """Whether ``ref.key`` is a file name the implementation may know (not a URL or data)."""
    key = ref.key
    return bool(key) and not key.startswith((MFACE_KEY, INLINE_KEY, "http://", "https://"))


class QQPictures:
    """Fetches the pictures of QQ messages through the connected accounts."""

    def __init__(self, accounts: Accounts, settings: Callable[[], ImageSettings]) -> None:
        self.accounts = accounts
        self.settings = settings  # read per picture: the config can be reloaded
        self.no_get_image: set[str] = set()  # accounts that answered get_image with 1404

    def fetcher(self, bot: Bot) -> Fetcher:
        """A fetcher that asks ``bot`` (the account that received the message) first."""

        async def fetch(ref: ImageRef) -> bytes:
            return await self.fetch(ref, [bot])

        return fetch

    async def fetch_any(self, ref: ImageRef) -> bytes:
        """A picture's bytes through any connected account (a command's quoted picture)."""
        return await self.fetch(ref, list(self.accounts.connected().values()))

    async def fetch(self, ref: ImageRef, bots: list[Bot]) -> bytes:
        """The bytes of ``ref``; raises :class:`ImageFetchError` saying why not."""
        settings = self.settings()
        limit = settings.fetch_timeout.total_seconds()
        reasons: list[str] = []
        try:
            async with asyncio.timeout(limit):
                if _platform_key(ref):
                    for bot in bots:
                        if bot.self_id in self.no_get_image:
                            continue
                        data = await self._get_image(bot, ref, settings, reasons)
                        if data is not None:
                            return data
                if ref.source:
                    data = await self._read(ref.source, settings, reasons, trusted=False)
                    if data is not None:
                        return data
        except TimeoutError:
            reasons.append(f"no picture within {limit:g} s")
        raise ImageFetchError("; ".join(reasons) or "no way to fetch this picture")

    async def _get_image(
        self, bot: Bot, ref: ImageRef, settings: ImageSettings, reasons: list[str]
    ) -> bytes | None:
        try:
            answer = await self.accounts.call(bot, "get_image", file=ref.key)
        except ActionFailed as exc:
            info = exc.info if isinstance(exc.info, Mapping) else {}
            if info.get("retcode") == UNSUPPORTED:
                log.info("QQ account %s has no get_image: pictures by URL", bot.self_id)
                self.no_get_image.add(bot.self_id)
            reasons.append(f"get_image: {describe(exc)}")
            return None
        except Exception as exc:  # a dropped connection, a timeout: try the next way
            reasons.append(f"get_image: {describe(exc)}")
            return None
        if not isinstance(answer, Mapping):
            reasons.append("get_image: no answer")
            return None
        for source, local in _sources(answer):
            data = await self._read(source, settings, reasons, trusted=True, local=local)
            if data is not None:
                return data
        return None

    async def _read(
        self,
        source: str,
        settings: ImageSettings,
        reasons: list[str],
        *,
        trusted: bool,
        local: bool = False,
    ) -> bytes | None:
        """Fetch ``source``: ``trusted`` when the implementation gave it (any address),
        else it came with the message (public addresses only, unless configured);
        ``local`` when it is the implementation's own file on this machine."""
        policy = FetchPolicy(
            max_bytes=settings.max_bytes,
            timeout=settings.fetch_timeout.total_seconds(),
            allow_local=local,
            allow_private=trusted or settings.fetch_private,
        )
        found = await fetch_image(source, policy=policy)
        if isinstance(found, FetchFailure):
            reasons.append(f"{_label(source)}: {found.reason.value}: {found.detail}")
            return None
        return found.data


def _sources(answer: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Where a ``get_image`` answer says the bytes are: (source, is the platform's local file)."""
    found: list[tuple[str, bool]] = []
    inline = answer.get("base64")
    if isinstance(inline, str) and inline:
        found.append((inline if inline.startswith("base64://") else "base64://" + inline, False))
    file = answer.get("file")
    if isinstance(file, str) and file:
        if file.startswith("base64://"):
            found.append((file, False))
        elif file.startswith("/") or file.startswith("file://"):
            found.append((file, True))  # the implementation's own cache, on this machine
    url = answer.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        found.append((url, False))
    return found


def _label(source: str) -> str:
    """A source short enough for a log line (never a whole base64 payload)."""
    return "inline data" if source.startswith("base64://") else source[:120]

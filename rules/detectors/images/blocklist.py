"""The blocklist of known bad pictures: config files plus pictures officers added by command.

:class:`BlocklistService` owns the :class:`~rules.detectors.images.phash.ImageBlocklist`
that the ``image_hash`` detector reads. At start it loads the files named by
``[images] blocklist`` (category: the folder a file is in, when that folder names a
category, else ``[images.hash] category``) and the entries kept in the store; a
command adds a picture (``/拉黑图片`` as a reply to it) or removes one, applied at once
and kept across restarts. Hashing runs in a worker thread: it decodes the picture.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from rules.core.pictures import BlockedImage
from rules.detectors.images.phash import (
    BLOCKLIST_DECODE_LIMITS,
    BlocklistEntry,
    ImageBlocklist,
    ImageHashes,
    frame_hashes,
)
from rules.detectors.keyword import expand_globs
from rules.images.decode import DecodeFailure, decode_image

log = logging.getLogger(__name__)


class BlockedImageStore(Protocol):
    async def blocked_images(self) -> list[BlockedImage]: ...

    async def add_blocked_image(self, image: BlockedImage) -> None: ...

    async def remove_blocked_image(self, key: str) -> bool: ...


class BlocklistError(ValueError):
    """A picture that cannot be blocklisted (not an image, too large...); says why."""


def encode_hashes(hashes: Iterable[ImageHashes]) -> str:
    return " ".join(h.hex() for h in hashes)


def decode_hashes(text: str) -> tuple[ImageHashes, ...]:
    return tuple(ImageHashes.from_hex(part) for part in text.split())


class BlocklistService:
    """Loads, adds to and removes from the picture blocklist the detector reads."""

    def __init__(self, blocklist: ImageBlocklist, store: BlockedImageStore | None = None) -> None:
        self.blocklist = blocklist
        self.store = store

    def load_files(
        self, patterns: Iterable[str], default_category: str, categories: Iterable[str]
    ) -> int:
        """Add the configured files; returns how many loaded (failures are logged)."""
        known = set(categories)
        by_category: dict[str, list[str]] = {}
        for path in expand_globs(patterns):
            folder = path.parent.name
            category = folder if folder in known else default_category
            by_category.setdefault(category, []).append(str(path))
        loaded = 0
        for category, files in by_category.items():
            report = self.blocklist.load_files(files, category)
            loaded += len(report.added)
            for failure in report.failures:
                log.warning("blocklist picture %s not loaded: %s", failure.path, failure.reason)
        return loaded

    async def load(self) -> int:
        """Add the entries kept in the store; returns how many."""
        if self.store is None:
            return 0
        kept = await self.store.blocked_images()
        for image in kept:
            self.blocklist.add(
                BlocklistEntry(image.key, image.name, image.category, decode_hashes(image.hashes))
            )
        return len(kept)

    async def add(
        self, data: bytes, name: str, category: str, added_by: str, at: datetime
    ) -> BlocklistEntry:
        """Blocklist the picture in ``data`` now and keep it; raises BlocklistError."""
        decoded = await asyncio.to_thread(decode_image, data, BLOCKLIST_DECODE_LIMITS)
        if isinstance(decoded, DecodeFailure):
            raise BlocklistError(decoded.detail)
        entry = await asyncio.to_thread(
            self.blocklist.add_image, name, category, decoded, key=decoded.sha256
        )
        if self.store is not None:
            await self.store.add_blocked_image(
                BlockedImage(entry.key, name, category, encode_hashes(entry.hashes), added_by, at)
            )
        return entry

    async def remove(self, data: bytes) -> tuple[BlocklistEntry, ...]:
        """Unlist every entry the picture in ``data`` matches; returns them."""
        decoded = await asyncio.to_thread(decode_image, data, BLOCKLIST_DECODE_LIMITS)
        if isinstance(decoded, DecodeFailure):
            raise BlocklistError(decoded.detail)
        removed = self.blocklist.remove_matching(frame_hashes(decoded))
        if self.store is not None:
            for entry in removed:
                await self.store.remove_blocked_image(entry.key)
        return removed

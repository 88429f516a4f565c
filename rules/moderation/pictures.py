"""The picture path: after a message's text is handled, its pictures are looked at and judged.

:class:`Pictures` holds the image stage (fetch + inspect in a bounded pool, cached),
the picture detectors and the blocklist. A platform edge calls :meth:`Pictures.submit`
after the engine handled a message that carries pictures: the work runs in the
background, never delaying the next event. When a picture holds something, the
engine decides again on an ``IMAGES`` event for the same message (claimed under its
own key), so the message is deleted and the member warned by the same ladder, with
the same fallbacks, dry run and records; the pictures of a case are kept as evidence
(thumbnail, recognised text, codes). ``scan`` awaits :meth:`Pictures.follow_up`
inline instead.

A message whose text already made a case is not judged again for its pictures: one
case per message (the evidence of that case is the text).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Protocol

from rules.config import Config, DetectorSettings, ImageSettings
from rules.core.model import (
    ChatEvent,
    Decision,
    EventKind,
    ImageKind,
    ImageRef,
    ImageReport,
)
from rules.core.pictures import CaseImage
from rules.core.ports import Gateway
from rules.detectors.base import Detector
from rules.detectors.images.blocklist import BlockedImageStore, BlocklistService
from rules.detectors.images.findings import (
    ImageHashDetector,
    ImageTextDetector,
    NsfwDetector,
    QrCodeDetector,
)
from rules.detectors.images.inspect import InspectOptions, inspect_picture
from rules.detectors.images.phash import ImageBlocklist
from rules.images.decode import DecodeLimits
from rules.images.stage import Fetcher, ImageStage

log = logging.getLogger(__name__)

# Pool workers run at this niceness: picture work yields the CPU to the event loop, so
# text moderation keeps its latency while pictures are read (see ``make bench-images``).
WORKER_NICENESS = 10


class CaseImageStore(Protocol):
    async def add_case_images(self, images: Sequence[CaseImage]) -> None: ...


class Handles(Protocol):
    """The engine, as far as the picture path needs it."""

    async def handle(self, event: ChatEvent, gateway: Gateway) -> Decision: ...


def inspect_options(settings: ImageSettings) -> InspectOptions:
    """What a pool worker checks, from the global ``[images]`` section."""
    return InspectOptions(
        decode=DecodeLimits(max_bytes=settings.max_bytes),
        codes=settings.qrcode.enabled,
        hashes=settings.hash.enabled,
        text=settings.text.enabled,
        nsfw=settings.nsfw.enabled,
        thumbnail_bytes=settings.thumbnail_bytes,
    )


def _background_priority() -> None:
    """In each pool worker: give way to the bot's own process."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice (Windows)
        os.nice(WORKER_NICENESS)


def process_pool(workers: int) -> Callable[[], Executor]:
    """A factory of worker-process pools (spawned: no copy of the bot's threads and loop),
    whose workers run at a lower priority than the bot (:data:`WORKER_NICENESS`)."""
    return functools.partial(
        ProcessPoolExecutor,
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_background_priority,
    )


class Pictures:
    """The image stage, the picture detectors and the blocklist, wired for one runtime."""

    def __init__(
        self,
        config: Config,
        stage: ImageStage,
        blocklist: BlocklistService,
        detectors: Sequence[Detector[DetectorSettings]],
        evidence: CaseImageStore | None = None,
    ) -> None:
        self.config = config
        self.stage = stage
        self.blocklist = blocklist
        self.detectors = list(detectors)
        self.evidence = evidence

    @classmethod
    def build(
        cls,
        config: Config,
        text_detectors: Sequence[Detector[DetectorSettings]],
        store: BlockedImageStore | None = None,
        evidence: CaseImageStore | None = None,
        executor: Callable[[], Executor] | None = None,
    ) -> Pictures:
        """Everything from the config; ``executor``: the pool factory (None: a thread)."""
        settings = config.policy().images
        blocklist = BlocklistService(ImageBlocklist(threshold=settings.hash.threshold), store)
        loaded = blocklist.load_files(
            settings.blocklist, settings.hash.category, config.policy().ladder.severity
        )
        if settings.blocklist:
            log.info("picture blocklist: %d files loaded", loaded)
        inspect = functools.partial(inspect_picture, options=inspect_options(settings))
        stage = ImageStage(inspect, executor, max_pending=settings.max_pending)
        detectors: list[Detector[DetectorSettings]] = [
            ImageTextDetector(text_detectors, config.policy_for),  # type: ignore[list-item]
            QrCodeDetector(text_detectors, config.policy_for),  # type: ignore[list-item]
            ImageHashDetector(blocklist.blocklist),  # type: ignore[list-item]
            NsfwDetector(),  # type: ignore[list-item]
        ]
        return cls(config, stage, blocklist, detectors, evidence)

    def wants(self, event: ChatEvent, decision: Decision | None = None) -> bool:
        """Whether this message's pictures should be looked at."""
        if event.kind is not EventKind.MESSAGE or not event.images:
            return False
        if decision is not None and decision.case_id is not None:
            return False  # the text made a case already: one case per message
        settings = self.config.policy_for(event.group_id).images
        return settings.enabled and any(self._looked_at(ref, settings) for ref in event.images)

    def submit(self, engine: Handles, event: ChatEvent, gateway: Gateway, fetch: Fetcher) -> None:
        """Look at the pictures in the background (the edge does not wait)."""
        self.stage.submit(self.follow_up(engine, event, gateway, fetch))

    async def follow_up(
        self, engine: Handles, event: ChatEvent, gateway: Gateway, fetch: Fetcher
    ) -> Decision | None:
        """Look at the pictures, then let the engine decide on what they held."""
        settings = self.config.policy_for(event.group_id).images
        reports = await self.stage.reports(
            event, fetch, skip=lambda ref: not self._looked_at(ref, settings)
        )
        if not any(r.checked for r in reports):
            return None
        decision = await engine.handle(self.stage.images_event(event, reports), gateway)
        if decision.case_id is not None and self.evidence is not None:
            await self._keep_evidence(self.evidence, decision.case_id, reports)
        return decision

    async def close(self, grace: float = 5.0) -> None:
        unfinished = await self.stage.drain(grace)
        if unfinished:
            log.warning("%d picture checks unfinished at stop", unfinished)
        self.stage.close()

    @staticmethod
    async def _keep_evidence(
        evidence: CaseImageStore, case_id: int, reports: tuple[ImageReport, ...]
    ) -> None:
        images = [
            CaseImage(
                case_id,
                r.index,
                r.key,
                r.sha256,
                r.width,
                r.height,
                r.text,
                r.codes,
                r.thumbnail,
                r.problem,
            )
            for r in reports
            if r.checked and r.thumbnail
        ]
        try:
            await evidence.add_case_images(images)
        except Exception:  # the case and its actions are recorded; evidence is best effort
            log.exception("picture evidence of case %d not kept", case_id)

    @staticmethod
    def _looked_at(ref: ImageRef, settings: ImageSettings) -> bool:
        return settings.stickers or ref.kind is not ImageKind.STICKER

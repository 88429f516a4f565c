"""Deliver queued officer reports through whichever gateway serves the officer's platform.

Reports are written to the store before any send is tried (see the engine), so
a crash or an unreachable officer loses nothing: a failed send is rescheduled
with exponential backoff and tried again, across restarts. Reports due for the
same officer are coalesced into one message (a burst of ten violations becomes
one message listing them); the engine holds new reports for
``[escalation] batch_window`` so a burst arrives together. A digest is always
its own message; its chart image is sent after its text where the platform can
send images (see :class:`rules.core.ports.MediaSender`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from rules.core.messages import render
from rules.core.model import Platform, split_id, utcnow
from rules.core.ports import Gateway, OutboxItem, ReportQueue, media_sender

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_BATCH = 10  # reports per private message
MAX_CHARS = 3500  # keep one message readable on a phone and under platform limits


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failed sends: 30 s, 60 s, 120 s ... capped at 1 h."""
    return min(BASE_DELAY * (2 ** max(attempts, 0)), MAX_DELAY)


class OutboxSender:
    """Sends due reports; call :meth:`flush` periodically (and after new reports)."""

    def __init__(
        self,
        store: ReportQueue,
        gateways: Mapping[Platform, Gateway],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.gateways = gateways
        self.clock = clock

    async def flush(self, reconnected: Collection[Platform] = ()) -> int:
        """Try every due report once, one message per officer batch; return reports delivered.

        ``reconnected``: platforms that just came back; their officers' reports
        waiting out a retry backoff are due now.
        """
        now = self.clock()
        due = await self.store.due_reports(now)
        if reconnected:
            known = {item.id for item in due}
            due += [
                item
                for item in await self.store.due_reports(now + MAX_DELAY)
                if item.attempts
                and item.id not in known
                and split_id(item.officer_id)[0] in reconnected
            ]
        delivered = 0
        for officer_id, items in _by_officer(due):
            for batch in _batches(items):
                if await self._send(officer_id, batch):
                    delivered += len(batch)
        return delivered

    async def _send(self, officer_id: str, batch: list[OutboxItem]) -> bool:
        platform, _ = split_id(officer_id)
        gateway = self.gateways.get(platform)
        try:
            if gateway is None:
                raise RuntimeError(f"no {platform.value} connection to reach the officer")
            await gateway.send_private(officer_id, batch_text(batch))
        except Exception as exc:  # any failure: keep the batch queued, try later
            retry_at = self.clock() + retry_delay(max(i.attempts for i in batch))
            log.warning(
                "%d report(s) to %s not delivered (%s); retry at %s",
                len(batch),
                officer_id,
                exc,
                retry_at.isoformat(timespec="seconds"),
            )
            await asyncio.gather(  # concurrent marks share one transaction (the store batches)
                *(self.store.mark_report_failed(item.id, str(exc), retry_at) for item in batch)
            )
            return False
        # Marked after the platform accepted the message: a crash in between can
        # repeat a report (at-least-once), never lose one.
        sent_at = self.clock()
        await asyncio.gather(*(self.store.mark_report_sent(item.id, sent_at) for item in batch))
        for item in batch:
            if item.image is not None:
                await _send_image(gateway, officer_id, item.image)
        return True


async def _send_image(gateway: Gateway, officer_id: str, png: bytes) -> None:
    """Best effort: the text is delivered; an image the platform refuses is not retried."""
    sender = media_sender(gateway)
    if sender is None:
        return
    try:
        await sender.send_private_image(officer_id, png)
    except Exception as exc:
        log.warning("image to %s not delivered (%s); the text was", officer_id, exc)


def _by_officer(items: list[OutboxItem]) -> list[tuple[str, list[OutboxItem]]]:
    grouped: dict[str, list[OutboxItem]] = {}
    for item in items:
        grouped.setdefault(item.officer_id, []).append(item)
    return list(grouped.items())


def _batches(items: list[OutboxItem]) -> list[list[OutboxItem]]:
    """Split one officer's reports into messages of at most MAX_BATCH items / MAX_CHARS."""
    batches: list[list[OutboxItem]] = []
    size = 0
    for item in items:
        if (
            not batches
            or len(batches[-1]) >= MAX_BATCH
            or size + len(item.text) > MAX_CHARS
            or "digest" in (item.kind, batches[-1][0].kind)  # a digest goes alone
        ):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item.text)
    return batches


def batch_text(batch: list[OutboxItem]) -> str:
    """One report as it is; several joined under a header with their count."""
    if len(batch) == 1:
        return batch[0].text
    header = render("report_batch", "zh", count=len(batch))
    return header + "\n\n" + "\n\n".join(f"({n}) {item.text}" for n, item in enumerate(batch, 1))

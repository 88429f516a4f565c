"""Deliver queued officer reports through whichever gateway serves the officer's platform.

Reports are written to the store before any send is tried (see the engine), so
a crash or an unreachable officer loses nothing: a failed send is rescheduled
with exponential backoff and tried again, across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from rules.model import Platform, split_id, utcnow
from rules.ports import Gateway, Store

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failed sends: 30 s, 60 s, 120 s ... capped at 1 h."""
    return min(BASE_DELAY * (2 ** max(attempts, 0)), MAX_DELAY)


class OutboxSender:
    """Sends due reports; call :meth:`flush` periodically (and after new reports)."""

    def __init__(
        self,
        store: Store,
        gateways: Mapping[Platform, Gateway],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.gateways = gateways
        self.clock = clock

    async def flush(self) -> int:
        """Try every due report once; return how many were delivered."""
        delivered = 0
        for item in await self.store.due_reports(self.clock()):
            platform, _ = split_id(item.officer_id)
            gateway = self.gateways.get(platform)
            try:
                if gateway is None:
                    raise RuntimeError(f"no {platform.value} connection to reach the officer")
                await gateway.send_private(item.officer_id, item.text)
            except Exception as exc:  # any failure: keep it queued, try later
                retry_at = self.clock() + retry_delay(item.attempts)
                log.warning(
                    "report %s to %s not delivered (%s); retry at %s",
                    item.id,
                    item.officer_id,
                    exc,
                    retry_at.isoformat(timespec="seconds"),
                )
                await self.store.mark_report_failed(item.id, str(exc), retry_at)
                continue
            await self.store.mark_report_sent(item.id, self.clock())
            delivered += 1
        return delivered

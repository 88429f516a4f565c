"""Schedules the officers' daily digest (rules.officers.digest) with nonebot-plugin-apscheduler.

Every day at ``[digest] time`` (in ``[digest] timezone``) :func:`run_digest`
queues each officer's digest in the durable outbox and wakes the outbox loop,
which sends it (with the chart image where the platform can). If the bot was
down at that time, the digest is caught up shortly after start (once the
platforms had time to connect) when the missed time is less than
``CATCH_UP_WITHIN`` ago. Running twice is harmless: the outbox keeps one
digest per officer and day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nonebot import logger, require
from nonebot.plugin import PluginMetadata

require("guard")
require("nonebot_plugin_apscheduler")

from apscheduler.triggers.cron import CronTrigger  # noqa: E402
from nonebot import get_driver  # noqa: E402
from nonebot_plugin_apscheduler import scheduler  # noqa: E402

from plugins.guard import get_runtime, request_outbox_flush  # noqa: E402
from rules.core.model import utcnow  # noqa: E402
from rules.officers.digest import digest_slot  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="officer_digest",
    description="Daily digest to each officer: violations, actions, open items, group checks",
    usage="runs by itself every day at [digest] time",
)

JOB_ID = "groupguard-officer-digest"
CATCH_UP_JOB_ID = "groupguard-officer-digest-catch-up"
CATCH_UP_DELAY = timedelta(minutes=2)  # let the platforms connect (group lists and names)
CATCH_UP_WITHIN = timedelta(hours=12)  # an older missed digest is not worth sending late


async def run_digest(now: datetime | None = None) -> int:
    """Queue the current day's digests and wake the outbox; return how many were queued.

    The whole job body, in one function (a multi-process lease can wrap it).
    """
    queued = await get_runtime().digest().run(now or utcnow())
    if queued:
        request_outbox_flush()
    return queued


DIGEST_LEASE_TTL = timedelta(minutes=30)


async def _job() -> None:
    try:
        # With several processes one runs the job; the outbox's once-a-day key
        # (dedupe_key) keeps a digest single even if two ran.
        if not await get_runtime().shared.try_lease(JOB_ID, DIGEST_LEASE_TTL):
            return
        await run_digest()
    except Exception as exc:  # the scheduler must keep running
        logger.opt(exception=exc).error("officer digest failed")


async def _catch_up() -> None:
    now = utcnow()
    if now - digest_slot(now, get_runtime().config.digest) <= CATCH_UP_WITHIN:
        await _job()


@get_driver().on_startup
async def _schedule() -> None:
    settings = get_runtime().config.digest
    hour, minute = settings.hour_minute()
    scheduler.add_job(
        _job,
        CronTrigger(hour=hour, minute=minute, timezone=settings.timezone),
        id=JOB_ID,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,  # a loop stalled at that minute still sends it
    )
    scheduler.add_job(
        _catch_up,
        "date",
        run_date=utcnow() + CATCH_UP_DELAY,
        id=CATCH_UP_JOB_ID,
        replace_existing=True,
    )

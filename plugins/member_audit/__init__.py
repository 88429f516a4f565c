"""Schedules the member audit (rules.members.audit) with nonebot-plugin-apscheduler.

Every ``[nickname] audit_every`` (default daily) it reloads changed rosters and
audits every group of every registered gateway that can also list groups and
members (implements :class:`rules.core.ports.Directory`). A gateway may expose the
bot's own id as ``self_id`` so the audit never reminds the bot itself.
"""

from __future__ import annotations

from nonebot import logger, require
from nonebot.plugin import PluginMetadata

require("guard")
require("nonebot_plugin_apscheduler")

from nonebot import get_driver  # noqa: E402
from nonebot_plugin_apscheduler import scheduler  # noqa: E402

from plugins.guard import get_runtime  # noqa: E402
from rules.core.ports import Directory, Gateway  # noqa: E402
from rules.detectors.nickname import NicknameDetector  # noqa: E402
from rules.members.audit import audit_all  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="member_audit",
    description="Scheduled audit of group cards, roster and group size/name",
    usage="runs by itself every [nickname] audit_every",
)

JOB_ID = "groupguard-member-audit"


def _directory(gateway: Gateway) -> Directory | None:
    needed = ("list_members", "group_info", "list_groups")
    return gateway if all(hasattr(gateway, n) for n in needed) else None  # type: ignore[return-value]


async def run_audit() -> int:
    """One audit over every gateway that is also a Directory; returns groups audited."""
    runtime = get_runtime()
    for detector in runtime.engine.detectors:
        if isinstance(detector, NicknameDetector):
            for problem in detector.rosters.refresh():
                logger.warning(f"roster not reloaded: {problem}")
    audited = 0
    for gateway in list(runtime.gateways.values()):
        directory = _directory(gateway)
        if directory is None:
            continue
        bot_id = getattr(gateway, "self_id", None)
        results = await audit_all(runtime.engine, directory, gateway, bot_id=bot_id)
        audited += len(results)
    logger.info(f"member audit: {audited} group(s) checked")
    return audited


async def _job() -> None:
    runtime = get_runtime()
    # Several processes (Redis): the first to ask runs the audit, the others skip
    # it; the lease outlives most of the interval, so drifting schedules still
    # audit once per interval.
    hold = runtime.config.nickname.audit_every * 0.9
    try:
        if not await runtime.shared.try_lease(JOB_ID, hold):
            logger.info("member audit: another process runs it this time")
            return
        await run_audit()
    except Exception as exc:  # the scheduler must keep running
        logger.opt(exception=exc).error("member audit failed")


@get_driver().on_startup
async def _schedule() -> None:
    interval = get_runtime().config.nickname.audit_every
    scheduler.add_job(
        _job,
        "interval",
        seconds=int(interval.total_seconds()),
        id=JOB_ID,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )

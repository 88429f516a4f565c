"""The officers' daily digest (群主每天都要查看群内动态): one private message a day per officer.

For every group an officer oversees (``[escalation] officers``, global or per
group, where ``[digest] enabled``) it counts the last day's violations by
category and the actions by kind, and lists what still needs a person: failed
actions, members still fixing their card (``member_compliance``), open appeals
and cases held for review on weak evidence (``tasks``), groups over the size cap,
idle for ``idle_days`` or not registered (备案), and the lower-severity reports
held back by ``[escalation] immediate_from``. A chart of violations per day
(last 7 days) goes with it where the platform can send images.

This module is the digest itself: what one officer's digest holds
(:class:`Digest`, one :class:`GroupDigest` per group) and how it is built from
the store's queries (:class:`DigestQueries`) and the platforms' group lists.
The scheduled job that renders and queues it is :mod:`rules.officers.digest_job`;
the text is :mod:`rules.officers.digest_text`, the chart :mod:`rules.officers.chart`.
The period is always ``[slot - 1 day, slot)`` where ``slot`` is the latest
``[digest] time`` at or before ``now``, so a late or repeated run reports the same day.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from rules.config import Config, DigestSettings
from rules.core.messages import Language
from rules.core.ports import Directory, Gateway, GroupInfo, as_directory
from rules.core.records import (
    ActionTally,
    CaseStat,
    FailedAction,
    GroupActivity,
    HeldReport,
    OpenAppeal,
    OpenReview,
    OpenTimeline,
    RegistryEntry,
)

log = logging.getLogger(__name__)

DAYS = 7  # days shown in the chart
DIRECTORY_CONCURRENCY = 4


# ---------------------------------------------------------------- the digest


@dataclass(frozen=True)
class GroupDigest:
    group_id: str
    name: str
    language: Language
    cases: int = 0
    categories: tuple[tuple[str, int], ...] = ()  # most frequent first
    actions: tuple[tuple[str, int], ...] = ()  # carried out, by kind, most frequent first
    dry_run: int = 0  # actions decided but not carried out (dry run)
    failed: tuple[FailedAction, ...] = ()
    in_grace: tuple[OpenTimeline, ...] = ()
    grace: timedelta = timedelta(0)  # deadline of a timeline = flagged_at + grace
    appeals: tuple[OpenAppeal, ...] = ()
    reviews: tuple[OpenReview, ...] = ()  # held for review, not yet confirmed or voided
    member_count: int | None = None
    over_cap: int | None = None  # the size cap, when the group is over it
    idle_days: int | None = None  # days without activity, when at least [digest] idle_days
    registered: bool = True
    per_day: tuple[int, ...] = (0,) * DAYS  # cases per day, oldest first; the last is the period

    @property
    def notable(self) -> bool:
        """Anything to say besides registration (quiet groups share one line)."""
        return bool(
            self.cases
            or self.failed
            or self.in_grace
            or self.appeals
            or self.reviews
            or self.over_cap
            or self.idle_days
        )


@dataclass(frozen=True)
class Digest:
    officer_id: str
    since: datetime
    until: datetime
    timezone: str
    language: Language
    groups: tuple[GroupDigest, ...]
    held: tuple[HeldReport, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_starts(self) -> tuple[datetime, ...]:
        """Start of each chart day (24 h periods ending at ``until``), oldest first."""
        return tuple(self.until - timedelta(days=DAYS - n) for n in range(DAYS))

    @property
    def quiet(self) -> bool:
        return not self.held and all(g.registered and not g.notable for g in self.groups)


# ---------------------------------------------------------------- building


class DigestQueries(Protocol):
    """What the digest reads from the store (``rules.storage.digest`` implements it).

    Every query takes the groups of interest and, where it says so, the period
    ``[since, until)``.
    """

    async def case_stats(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[CaseStat]: ...

    async def action_tallies(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[ActionTally]: ...

    async def failed_actions(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[FailedAction]: ...

    async def open_timelines(self, group_ids: Collection[str]) -> list[OpenTimeline]: ...

    async def open_appeals(self, group_ids: Collection[str]) -> list[OpenAppeal]: ...

    async def open_reviews(self, group_ids: Collection[str]) -> list[OpenReview]: ...

    async def group_activity(self) -> list[GroupActivity]: ...


def digest_slot(now: datetime, settings: DigestSettings) -> datetime:
    """The latest ``[digest] time`` (local) at or before ``now``, as an aware datetime."""
    zone = ZoneInfo(settings.timezone)
    hour, minute = settings.hour_minute()
    local = now.astimezone(zone)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)  # wall-clock arithmetic: the same local time a day earlier
    return slot


def officers_of(config: Config, group_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each officer's groups (those with ``[digest] enabled``), in ``group_ids`` order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for group_id in group_ids:
        policy = config.policy_for(group_id)
        if policy.digest.enabled:
            for officer in policy.escalation.officers:
                groups[officer].append(group_id)
    return dict(groups)


async def platform_groups(gateways: Iterable[Gateway]) -> dict[str, GroupInfo | None]:
    """The groups each platform says the bot is in, with their info (None if unavailable)."""
    found: dict[str, GroupInfo | None] = {}
    limit = asyncio.Semaphore(DIRECTORY_CONCURRENCY)
    for gateway in gateways:
        directory = as_directory(gateway)
        if directory is None:
            continue
        try:
            group_ids = await directory.list_groups()
        except Exception as exc:  # a platform offline: its groups come from the store
            log.warning("digest: %s group list unavailable: %s", gateway.platform.value, exc)
            continue
        infos = await asyncio.gather(*(_group_info(directory, g, limit) for g in group_ids))
        found.update(zip(group_ids, infos, strict=True))
    return found


async def _group_info(
    directory: Directory, group_id: str, limit: asyncio.Semaphore
) -> GroupInfo | None:
    async with limit:
        try:
            return await directory.group_info(group_id)
        except Exception as exc:  # one group's info missing: no size check for it today
            log.warning("digest: info of %s unavailable: %s", group_id, exc)
            return None


def common_language(config: Config, group_ids: Collection[str]) -> Language:
    languages = {config.policy_for(g).moderation.language for g in group_ids}
    return languages.pop() if len(languages) == 1 else config.moderation.language


async def build_group_digests(
    store: DigestQueries,
    config: Config,
    group_ids: Collection[str],
    since: datetime,
    until: datetime,
    info: Mapping[str, GroupInfo | None] | None = None,
    registry: Mapping[str, RegistryEntry] | None = None,
) -> dict[str, GroupDigest]:
    """One GroupDigest per group for the period ``[since, until)`` (chart: the 7 days to until).

    ``info``: what the platforms say now (name, size); ``registry``: the registrations.
    """
    info = info or {}
    registry = registry or {}
    week_start = until - timedelta(days=DAYS)
    stats = await store.case_stats(group_ids, week_start, until)
    tallies = await store.action_tallies(group_ids, since, until)
    failed = await store.failed_actions(group_ids, since, until)
    timelines = await store.open_timelines(group_ids)
    appeals = await store.open_appeals(group_ids)
    reviews = await store.open_reviews(group_ids)
    activity = {a.group_id: a for a in await store.group_activity()}

    per_day: dict[str, list[int]] = defaultdict(lambda: [0] * DAYS)
    categories: dict[str, Counter[str]] = defaultdict(Counter)
    for stat in stats:
        day = min(int((stat.at - week_start) / timedelta(days=1)), DAYS - 1)
        per_day[stat.group_id][day] += 1
        if stat.at >= since:
            categories[stat.group_id].update(stat.categories)
    done: dict[str, Counter[str]] = defaultdict(Counter)
    dry_run: Counter[str] = Counter()
    for tally in tallies:
        if tally.status == "done":
            done[tally.group_id][tally.kind] += tally.count
        elif tally.status == "dry_run":
            dry_run[tally.group_id] += tally.count

    digests = {}
    for group_id in group_ids:
        policy = config.policy_for(group_id)
        facts = info.get(group_id)
        known = activity.get(group_id)
        over_cap = None
        if (
            facts
            and policy.groupcheck.enabled
            and facts.member_count > policy.groupcheck.max_members
        ):
            over_cap = policy.groupcheck.max_members
        idle = None
        if known is not None and policy.digest.idle_days:
            days = (until - known.last_activity) // timedelta(days=1)
            idle = days if days >= policy.digest.idle_days else None
        entry = registry.get(group_id)
        digests[group_id] = GroupDigest(
            group_id=group_id,
            name=(facts.name if facts else "")
            or (known.name if known else "")
            or (entry.name if entry else ""),
            language=policy.moderation.language,
            cases=per_day[group_id][-1],
            categories=tuple(categories[group_id].most_common()),
            actions=tuple(done[group_id].most_common()),
            dry_run=dry_run[group_id],
            failed=tuple(f for f in failed if f.group_id == group_id),
            in_grace=tuple(t for t in timelines if t.group_id == group_id),
            grace=policy.nickname.grace,
            appeals=tuple(a for a in appeals if a.group_id == group_id),
            reviews=tuple(r for r in reviews if r.group_id == group_id),
            member_count=facts.member_count if facts else None,
            over_cap=over_cap,
            idle_days=idle,
            registered=entry is not None,
            per_day=tuple(per_day[group_id]),
        )
    return digests

"""The officers' daily digest (群主每天都要查看群内动态): one private message a day per officer.

For every group an officer oversees (``[escalation] officers``, global or per
group, where ``[digest] enabled``) it counts the last day's violations by
category and the actions by kind, and lists what still needs a person: failed
actions, members still fixing their card (``member_compliance``), open appeals
(``tasks``), groups over the size cap, idle for ``idle_days`` or not
registered (备案), and the lower-severity reports held back by ``[escalation]
immediate_from``. A chart of violations per day (last 7 days) goes with it
where the platform can send images.

:func:`send_digests` is the whole scheduled job: it reads the store and the
platforms' group lists, renders each officer's digest and queues it in the
durable outbox (idempotently: one digest per officer and day). The period is
always ``[slot - 1 day, slot)`` where ``slot`` is the latest ``[digest] time``
at or before ``now``, so a late or repeated run reports the same day.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rules.config import Config, DigestSettings, Policy
from rules.core.messages import Language
from rules.core.model import Finding, split_id
from rules.core.ports import Directory, Gateway, GroupInfo, as_directory, media_sender

if TYPE_CHECKING:
    from rules.groups.registry import RegistryEntry
    from rules.runtime import Runtime
    from rules.storage.sql_store import SqlStore

log = logging.getLogger(__name__)

DAYS = 7  # days shown in the chart
DIRECTORY_CONCURRENCY = 4


# ---------------------------------------------------------------- records read from the store


@dataclass(frozen=True, slots=True)
class CaseStat:
    group_id: str
    at: datetime
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionTally:
    group_id: str
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class FailedAction:
    group_id: str
    case_id: int
    member_id: str
    card: str
    kind: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OpenTimeline:
    """A member flagged for a wrong card and not yet acted on."""

    group_id: str
    member_id: str
    card: str
    problem: str
    flagged_at: datetime


@dataclass(frozen=True, slots=True)
class OpenAppeal:
    group_id: str
    task_id: int
    case_id: int | None
    requester_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class GroupActivity:
    group_id: str
    name: str
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class HeldReport:
    """A report held for the digest (``[escalation] immediate_from``)."""

    id: int
    case_id: int | None
    group_id: str
    member_id: str
    card: str
    categories: tuple[str, ...]
    at: datetime
    text: str


def finding_categories(findings: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """A case's categories, each once (a finding without one counts as its detector)."""
    return tuple(
        dict.fromkeys(str(f.get("category") or f.get("detector") or "?") for f in findings)
    )


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


def held_for_digest(findings: Iterable[Finding], policy: Policy) -> bool:
    """Whether an escalation waits for the digest: below ``[escalation] immediate_from``.

    Only where the group gets digests; a case is as severe as its worst finding.
    """
    if not policy.digest.enabled:
        return False
    ladder = policy.ladder
    severity = max((ladder.severity_of(f.category) for f in findings), default=None)
    return (severity or ladder.default_severity) < policy.escalation.immediate_from


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


def _common_language(config: Config, group_ids: Collection[str]) -> Language:
    languages = {config.policy_for(g).moderation.language for g in group_ids}
    return languages.pop() if len(languages) == 1 else config.moderation.language


async def build_group_digests(
    store: SqlStore,
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
            member_count=facts.member_count if facts else None,
            over_cap=over_cap,
            idle_days=idle,
            registered=entry is not None,
            per_day=tuple(per_day[group_id]),
        )
    return digests


def _can_send_images(gateways: Mapping[Any, Gateway], officer_id: str) -> bool:
    platform, _ = split_id(officer_id)
    return media_sender(gateways.get(platform)) is not None


async def send_digests(runtime: Runtime, now: datetime) -> int:
    """Queue today's digest for every officer (once per day); return how many were queued.

    The scheduled job's whole body (``plugins/officer_digest``): safe to run
    again, late or from several processes (the outbox dedupe key keeps one
    digest per officer and day). Ask the outbox to flush afterwards.
    """
    from rules.officers.chart import DigestChart, digest_chart
    from rules.officers.digest_text import render_digest

    config, store = runtime.config, runtime.store
    settings = config.digest
    until = digest_slot(now, settings)
    since = until - timedelta(days=1)
    info = await platform_groups(runtime.gateways.values())
    await store.note_groups({g: i.name if i else "" for g, i in info.items()}, now)
    group_ids = sorted(set(info) | {a.group_id for a in await store.group_activity()})
    registry = {e.group_id: e for e in await store.list_registry()}
    officers = officers_of(config, group_ids)
    by_group = await build_group_digests(
        store, config, group_ids, since, until, info=info, registry=registry
    )
    charts: dict[tuple[object, ...], DigestChart | None] = {}  # same groups, same chart
    queued = 0
    for officer, groups in officers.items():
        digest = Digest(
            officer_id=officer,
            since=since,
            until=until,
            timezone=settings.timezone,
            language=_common_language(config, groups),
            groups=tuple(by_group[g] for g in groups),
            held=tuple(await store.held_reports(officer)),
        )
        if digest.quiet and not settings.send_when_quiet:
            continue
        chart = None
        if settings.chart and _can_send_images(runtime.gateways, officer):
            shape = tuple((g.group_id, g.per_day) for g in digest.groups)
            if shape not in charts:  # CPU-bound (0.3-0.5 s): in a thread, off the event loop
                charts[shape] = await asyncio.to_thread(digest_chart, digest)
            chart = charts[shape]
        parts = render_digest(digest, chart.legend if chart else None)
        messages: list[tuple[str, bytes | None]] = [(text, None) for text in parts]
        messages[-1] = (parts[-1], chart.png if chart else None)  # the legend ends the text
        key = f"digest:{officer}:{until.date().isoformat()}"
        if await store.enqueue_digest(officer, messages, [h.id for h in digest.held], key, now):
            queued += 1
    released = await store.release_held(officers.keys(), now)
    if released:
        log.warning(
            "digest: %d held report(s) of officers without a digest sent as reports", released
        )
    log.info("digest: queued for %d officer(s), period %s to %s", queued, since, until)
    return queued

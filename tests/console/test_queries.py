"""The console's queries and sign-in store on SQLite and on a real PostgreSQL.

Category filters and counts read the JSON findings inside the database
(``json_each`` on SQLite, ``json_array_elements`` on PostgreSQL); links are
redeemed by one conditional UPDATE, so of two processes racing for the same
link exactly one signs in.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from rules.core.model import Action, ActionKind, Finding, Outcome, OutcomeStatus
from rules.storage.console_queries import CaseFilter, ConsoleQueries, Counts, SqlConsoleAuth
from rules.storage.repositories import Storage
from tests.fakes import T0, Clock, message


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(db_url)
    yield opened
    await opened.close()


async def add_case(
    storage: Storage, text: str, category: str, n: int, group: str = "qq:1001", failed: bool = False
) -> int:
    at = T0 - timedelta(hours=n)
    event = message(text, user=f"qq:{2000 + n % 3}", group=group, at=at)
    findings = (
        Finding("keyword", category, text[:2], 0, 2),
        Finding("keyword", category, text[:2], 0, 2),  # the same category twice counts once
    )
    case_id = await storage.journal.open_case(event, findings, 1, at, 1)
    status = OutcomeStatus.FAILED if failed else OutcomeStatus.DONE
    outcome = Outcome(Action(ActionKind.MUTE, group, event.member.id, case_id=case_id), status)
    await storage.journal.record_outcomes(case_id, (outcome,), at)
    return case_id


async def test_keyset_pages_and_json_filters(storage: Storage) -> None:
    queries = ConsoleQueries(storage.database)
    ids = [await add_case(storage, f"网赌{n}", "gambling", n) for n in range(7)]
    ads = await add_case(storage, "广告", "广告", 99, group="qq:1002")
    seen: list[int] = []
    after = None
    while True:
        page = await queries.case_page(CaseFilter(scope=None, category="gambling"), after, 3)
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == ids  # newest first: ids were made newest first
    only_ads = await queries.case_page(CaseFilter(scope=None, category="广告"), None)
    assert [r.id for r in only_ads.rows] == [ads]
    scoped = await queries.case_page(
        CaseFilter(scope=frozenset({"qq:1001"}), category="广告"), None
    )
    assert scoped.rows == []
    member = await queries.case_page(CaseFilter(scope=None, members=("qq:2001",)), None)
    assert {r.member_id for r in member.rows} == {"qq:2001"}
    assert await queries.case_detail(ads, frozenset({"qq:1001"})) is None
    detail = await queries.case_detail(ads, None)
    assert detail is not None and detail.case.categories == ("广告",)


async def test_counts_by_day_group_category_and_action(storage: Storage) -> None:
    queries = ConsoleQueries(storage.database)
    for n in range(4):
        await add_case(storage, "网赌", "gambling", n * 24, failed=n == 0)
    await add_case(storage, "广告", "ads", 1, group="qq:1002")
    starts = [T0.replace(hour=0) - timedelta(days=4 - i) for i in range(5)]
    daily = await queries.daily_counts(None, starts, T0 + timedelta(seconds=1))
    assert [d.days for d in daily] == [[0], [1], [1], [1], [2]]
    assert daily[-1].by_group == {"qq:1001": 1, "qq:1002": 1}
    counts = functools.reduce(Counts.plus, daily)
    assert counts.days == [0, 1, 1, 1, 2]
    assert counts.by_group == {"qq:1001": 4, "qq:1002": 1}
    assert counts.by_category == {"gambling": 4, "ads": 1}
    assert counts.by_action == {"mute": 4} and counts.failed == 1
    mine = functools.reduce(
        Counts.plus,
        await queries.daily_counts(frozenset({"qq:1002"}), starts, T0 + timedelta(seconds=1)),
    )
    assert mine.by_group == {"qq:1002": 1} and mine.by_action == {"mute": 1}
    attention = await queries.attention(None, starts[0])
    assert [f.case_id for f in attention.failed] == [1] and attention.open_cases == 5


async def test_a_link_is_redeemed_once_even_by_racing_processes(storage: Storage) -> None:
    auth = SqlConsoleAuth(storage.database)
    await auth.add_link("h" * 64, "qq:1", "test", T0, T0 + timedelta(minutes=5))
    winners = await asyncio.gather(*(auth.redeem_link("h" * 64, T0, f"a{n}") for n in range(8)))
    assert winners.count("qq:1") == 1 and winners.count(None) == 7
    await auth.add_link("e" * 64, "qq:1", "test", T0, T0 + timedelta(minutes=5))
    assert await auth.redeem_link("e" * 64, T0 + timedelta(minutes=5), "a") is None
    await auth.add_session("s" * 64, "qq:1", T0, T0 + timedelta(hours=1), "a")
    assert (await auth.get_session("s" * 64, T0)) is not None
    assert await auth.get_session("s" * 64, T0 + timedelta(hours=1)) is None
    assert await auth.purge(T0 + timedelta(hours=2)) == 3


async def test_finished_days_are_counted_once_kept_and_shared(storage: Storage) -> None:
    from plugins.console.summary import OverviewCounts

    queries = ConsoleQueries(storage.database)
    for n in range(5):
        await add_case(storage, "网赌", "gambling", n * 24 + 1, failed=n == 1)
    await add_case(storage, "广告", "ads", 30, group="qq:1002")
    starts = [T0.replace(hour=0) - timedelta(days=5 - i) for i in range(6)]
    clock = Clock(T0)
    direct = functools.reduce(
        Counts.plus, await queries.daily_counts(None, starts, T0 + timedelta(seconds=1))
    )
    first = OverviewCounts(queries, clock)
    summary = await first.summary(None, starts, T0)
    assert summary.period == direct and first.counted_days == 5
    assert summary.period.by_category == {"gambling": 5, "ads": 1}
    await first.summary(None, starts, T0)
    assert first.counted_days == 5  # kept

    restarted = OverviewCounts(queries, clock)  # another process, or after a restart
    scoped = await restarted.summary(frozenset({"qq:1002"}), starts, T0)
    assert restarted.counted_days == 0
    mine = functools.reduce(
        Counts.plus,
        await queries.daily_counts(frozenset({"qq:1002"}), starts, T0 + timedelta(seconds=1)),
    )
    assert scoped.period == mine and scoped.period.by_group == {"qq:1002": 1}

    # just after midnight yesterday is counted, and counted again once it has settled
    midnight = starts[-1] + timedelta(days=1)
    tomorrow = [*starts[1:], midnight]
    early = OverviewCounts(queries, Clock(midnight + timedelta(minutes=5)))
    await early.summary(None, tomorrow, midnight + timedelta(minutes=5))
    assert early.counted_days == 1
    await add_case(storage, "网赌", "gambling", -3)  # a write delayed by an outage lands
    late = OverviewCounts(queries, Clock(midnight + timedelta(hours=2)))
    after = await late.summary(None, tomorrow, midnight + timedelta(hours=2))
    assert late.counted_days == 1 and after.period.days[-2] == direct.days[-1] + 1
    assert await late.prepare(tomorrow) == 0

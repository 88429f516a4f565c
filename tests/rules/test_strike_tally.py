"""Strikes kept in memory (rules.storage.strike_tally): answers, staleness, races, and the
journal's and the case repository's use of it on a real store.

Tests taking ``db_url`` run on a SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from rules.core.model import Strike, TaskStatus
from rules.core.records import CaseIntent
from rules.storage import Storage
from rules.storage.strike_tally import ROLL_RETRY, ROLL_SPAN, StrikeTally
from rules.storage.tables import strikes
from tests.fakes import T0, message

G, M = "qq:1001", "qq:2001"
WEEK = T0 - timedelta(days=7)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def loaded(
    tally: StrikeTally,
    since: datetime = WEEK,
    found: tuple[tuple[datetime, int], ...] = ((T0, 1),),
) -> StrikeTally:
    tally.begin_load(G, M)
    tally.install(G, M, since, list(found))
    return tally


def test_unknown_members_and_windows_reaching_further_back_are_not_answered() -> None:
    tally = StrikeTally()
    assert tally.weight(G, M, WEEK) is None
    loaded(tally)
    assert tally.weight(G, M, WEEK) == 1
    assert tally.weight(G, M, T0) == 1  # a shorter window is within what was read
    assert tally.weight(G, M, WEEK - timedelta(days=1)) is None  # older than the read
    assert tally.weight(G, "qq:other", WEEK) is None


def test_strikes_older_than_the_window_asked_are_not_counted() -> None:
    tally = loaded(StrikeTally(), found=((WEEK + timedelta(days=1), 2), (T0, 1)))
    assert tally.weight(G, M, WEEK) == 3
    assert tally.weight(G, M, WEEK + timedelta(days=2)) == 1


def test_what_was_read_is_trusted_for_ttl_seconds_only() -> None:
    clock = Ticks()
    tally = loaded(StrikeTally(ttl=30, clock=clock))
    clock.now = 29
    assert tally.weight(G, M, WEEK) == 1
    clock.now = 31
    assert tally.weight(G, M, WEEK) is None


def test_committed_strikes_count_and_unknown_outcomes_forget_the_member() -> None:
    tally = loaded(StrikeTally())
    tally.begin_write(G, M)
    tally.end_write(G, M, T0, 2, committed=True)
    assert tally.weight(G, M, WEEK) == 3
    tally.begin_write(G, M)
    tally.end_write(G, M, T0, 5, committed=False)  # refused (message handled elsewhere)
    assert tally.weight(G, M, WEEK) == 3
    tally.begin_write(G, M)
    tally.end_write(G, M, T0, 5, committed=None)  # failed midway: ask the store next time
    assert tally.weight(G, M, WEEK) is None


def test_a_read_overlapping_a_write_or_a_void_is_not_kept() -> None:
    for change in ("write started", "write ended", "forget", "clear", "writing before"):
        tally = StrikeTally()
        if change == "writing before":
            tally.begin_write(G, M)
        tally.begin_load(G, M)
        if change == "write started":
            tally.begin_write(G, M)
        elif change == "write ended":
            tally.begin_write(G, M)
            tally.end_write(G, M, T0, 1, committed=True)
        elif change == "forget":
            tally.forget(G, M)
        elif change == "clear":
            tally.clear()
        tally.install(G, M, WEEK, [(T0, 1)])
        assert tally.weight(G, M, WEEK) is None, change


def test_the_least_recently_used_members_go_first() -> None:
    tally = StrikeTally(max_members=2)
    for member in ("a", "b", "c"):
        tally.begin_load(G, member)
        tally.install(G, member, WEEK, [])
    assert tally.weight(G, "a", WEEK) is None
    assert tally.weight(G, "b", WEEK) == 0 and tally.weight(G, "c", WEEK) == 0


def intent(message_id: str, weight: int) -> CaseIntent:
    return CaseIntent(
        event=message("笨蛋", message_id=message_id),
        findings=(),
        step=1,
        at=T0,
        strike_weight=weight,
        plan=(),
        reports=(),
        queued_at=T0,
        hold_until=T0,
        handler="test",
        claim=message_id,
    )


async def test_the_journal_answers_repeat_offenders_from_memory_and_stays_right(
    db_url: str,
) -> None:
    storage = await Storage.open(db_url)
    journal = storage.journal
    tally = journal.tally  # type: ignore[union-attr]
    assert tally is not None  # one process, no shared state: strikes are kept
    try:
        assert await journal.strike_weight(G, M, WEEK) == 0
        first = await journal.open_intent(intent("m1", 2))
        assert first is not None
        hits = tally.hits
        assert await journal.strike_weight(G, M, WEEK) == 2
        assert tally.hits == hits + 1  # answered without a read
        assert await journal.open_intent(intent("m1", 2)) is None  # claimed already
        await journal.add_strike(Strike(G, M, 1, T0))
        assert await journal.strike_weight(G, M, WEEK) == 3
        assert await journal.strike_weight(G, M, WEEK, cached=False) == 3  # as stored

        await storage.cases.set_case_status(first, TaskStatus.PARDONED)  # voids its strike
        assert await journal.strike_weight(G, M, WEEK) == 1
        assert await storage.cases.void_strikes(G, M) == 1
        assert await journal.strike_weight(G, M, WEEK) == 0
    finally:
        await storage.close()


async def test_a_strike_written_behind_the_journals_back_shows_after_the_ttl(
    db_url: str,
) -> None:
    storage = await Storage.open(db_url)
    journal = storage.journal
    clock = Ticks()
    tally = journal.tally = StrikeTally(ttl=30, clock=clock)  # type: ignore[union-attr]
    try:
        assert await journal.strike_weight(G, M, WEEK) == 0
        async with storage.database.write() as conn:  # e.g. an offline scan on the live file
            row = {"group_id": G, "member_id": M, "weight": 4, "at": T0, "voided": False}
            await conn.execute(insert(strikes).values(**row))
        assert await journal.strike_weight(G, M, WEEK) == 0  # not seen yet...
        clock.now = 31
        assert await journal.strike_weight(G, M, WEEK) == 4  # ...but within the TTL
        assert tally.misses >= 2
    finally:
        await storage.close()


# -- the roll of members struck since its horizon (first offenders need no read) -------


def rolled(tally: StrikeTally, struck: set[tuple[str, str]] | None = None) -> StrikeTally:
    assert tally.roll_due()
    tally.begin_roll(T0)
    tally.install_roll(set(struck or ()))
    return tally


def test_a_member_not_on_a_fresh_roll_has_no_strike_without_a_read() -> None:
    clock = Ticks()
    tally = rolled(StrikeTally(ttl=30, clock=clock), {(G, "qq:struck")})
    assert not tally.roll_due()
    assert tally.weight(G, M, WEEK) == 0
    assert tally.weight(G, "qq:struck", WEEK) is None  # on the roll: read as before
    assert tally.weight("qq:other-group", M, WEEK) == 0
    assert tally.weight(G, "qq:new", T0 - ROLL_SPAN - timedelta(days=1)) is None  # too far back
    clock.now = 16
    assert tally.roll_due()  # read again before it expires...
    assert tally.weight(G, "qq:meanwhile", WEEK) == 0  # ...while it still answers
    clock.now = 31
    assert tally.roll_due()
    assert tally.weight(G, "qq:newer", WEEK) is None  # an old roll answers nothing


def test_a_first_offenders_strikes_count_after_the_roll_answered_for_them() -> None:
    tally = rolled(StrikeTally())
    assert tally.weight(G, M, WEEK) == 0
    tally.begin_write(G, M)
    assert tally.weight(G, M, WEEK) == 0  # (known: nothing committed yet)
    tally.end_write(G, M, T0, 2, committed=True)
    assert tally.weight(G, M, WEEK) == 2
    tally.forget(G, M)  # voided: the roll still names them, so the store is asked
    assert tally.weight(G, M, WEEK) is None


def test_writes_begun_before_or_while_the_roll_is_read_put_members_on_it() -> None:
    tally = StrikeTally()
    tally.begin_write(G, "qq:before")
    tally.begin_roll(T0)
    tally.begin_write(G, "qq:during")
    tally.install_roll(set())  # the read saw neither write committed
    assert tally.weight(G, "qq:before", WEEK) is None
    assert tally.weight(G, "qq:during", WEEK) is None
    tally.begin_write(G, "qq:after")  # and after: failed or not, it stays on the roll
    tally.end_write(G, "qq:after", T0, 1, committed=None)
    assert tally.weight(G, "qq:after", WEEK) is None
    tally.clear()  # an outage or a pardon forgets weights, not the roll
    assert tally.weight(G, "qq:during", WEEK) is None
    assert tally.weight(G, M, WEEK) == 0


def test_a_failed_or_too_long_roll_answers_nothing_and_is_read_again_later() -> None:
    clock = Ticks()
    tally = StrikeTally(ttl=30, clock=clock, max_roll=2)
    tally.begin_roll(T0)
    assert not tally.roll_due()  # one read at a time
    tally.abandon_roll()
    assert tally.weight(G, M, WEEK) is None and not tally.roll_due()
    clock.now = ROLL_RETRY
    rolled(tally, {(G, "a"), (G, "b"), (G, "c")})  # more than max_roll: no roll kept
    assert tally.weight(G, M, WEEK) is None
    clock.now += 31
    assert not tally.roll_due()  # a store with that many struck members is not re-read soon


async def test_the_journal_answers_first_offenders_from_the_roll_and_stays_right(
    db_url: str,
) -> None:
    now = datetime.now(UTC)
    since = now - timedelta(days=30)
    storage = await Storage.open(db_url)
    journal = storage.journal
    clock = Ticks()
    tally = journal.tally = StrikeTally(ttl=30, clock=clock)  # type: ignore[union-attr]
    try:
        async with storage.database.write() as conn:  # struck before this process began
            row = {"group_id": G, "member_id": "qq:old", "weight": 1, "at": now, "voided": False}
            await conn.execute(insert(strikes).values(**row))
        assert await journal.strike_weight(G, M, since) == 0  # (the roll is being read)
        await journal._roll_read  # type: ignore[misc]
        misses = tally.misses
        assert await journal.strike_weight(G, "qq:first", since) == 0
        assert tally.misses == misses  # answered from the roll
        assert await journal.strike_weight(G, "qq:old", since) == 1  # on the roll: read
        await journal.add_strike(Strike(G, "qq:first", 2, now))
        assert await journal.strike_weight(G, "qq:first", since) == 2
        assert await journal.strike_weight(G, "qq:first", since, cached=False) == 2

        async with storage.database.write() as conn:  # e.g. an offline scan on the live file
            row = {"group_id": G, "member_id": "qq:late", "weight": 3, "at": now, "voided": False}
            await conn.execute(insert(strikes).values(**row))
        assert await journal.strike_weight(G, "qq:late", since) == 0  # not seen yet...
        clock.now = 31
        assert await journal.strike_weight(G, "qq:late", since) == 3  # ...but within the TTL
        await journal._roll_read  # type: ignore[misc]
        assert await journal.strike_weight(G, "qq:late", since) == 3  # on the new roll
        assert await journal.strike_weight(G, "qq:never", since) == 0
    finally:
        await storage.close()

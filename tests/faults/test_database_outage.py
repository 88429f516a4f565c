"""The database unreachable for 30 s while violations keep coming, against the real bot.

The bot (``python bot.py``) reaches PostgreSQL through a proxy that the test
cuts: open connections drop and new ones get no answer (a partition). During
the outage every violation must still be acted on (deleted, warned, muted on
a member's second offence: the ladder keeps counting); afterwards every case,
outcome and officer report must be in the database, once, and the bot must
have said "database unreachable" once, not per event.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rules.storage.tables import actions, cases, outbox, unsettled_cases
from tests.e2e.onebot_client import (
    FakeOneBot,
    SimGroup,
    free_port,
    is_call,
    running_bot,
    text,
)
from tests.faults.proxy import CuttableProxy
from tests.multiproc.cluster import TOKEN, node_config

pytestmark = pytest.mark.e2e

BOT, GROUP, OFFICER = 10000, 7001, 90001
OUTAGE_S = 30.0
WORDS = {"insult": ["测试脏话"], "gambling": ["测试赌局"]}
EXTRA = """
[ladder.severity]
insult = "medium"
gambling = "high"
"""
OFFENDERS = list(range(4001, 4011))  # each offends twice: a warning, then a mute
GAMBLERS = [4101, 4102, 4103]  # high severity: a mute and a report to the officer


def group() -> SimGroup:
    sim = SimGroup(GROUP, "断库测试群")
    sim.add(BOT, "admin", "群卫士+办公室")
    for user in [*OFFENDERS, *GAMBLERS, 4000]:
        sim.add(user, "member", f"成员{user}+教务处")
    return sim


def script() -> list[tuple[int, int, str]]:
    """(message id, user, text) for the outage: every offender twice, gamblers in between."""
    plan: list[tuple[int, int, str]] = []
    for round_ in range(2):
        for user in OFFENDERS:
            plan.append((1000 + len(plan), user, f"你是测试脏话{round_}"))
        plan.append((1000 + len(plan), GAMBLERS[round_], "测试赌局来玩"))
    plan.append((1000 + len(plan), GAMBLERS[2], "测试赌局来玩"))
    return plan


async def all_recorded(url: str, cases_expected: int, reports_expected: int) -> None:
    """Until every case has its outcomes and every report is marked sent (the last
    actions of the stream are still paced out after its last deletion)."""
    engine = create_async_engine(url)
    try:
        for _ in range(300):
            async with engine.connect() as conn:
                acted = select(func.count(func.distinct(actions.c.case_id))).where(
                    actions.c.case_id.not_in(select(unsettled_cases.c.case_id))
                )
                sent = select(func.count()).where(outbox.c.sent_at.is_not(None))
                if (await conn.execute(acted)).scalar() == cases_expected and (
                    await conn.execute(sent.select_from(outbox))
                ).scalar() == reports_expected:
                    return
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def test_moderation_goes_on_through_a_30s_database_outage(
    tmp_path: Path, pg_url: str
) -> None:
    db = make_url(pg_url)
    assert db.port is not None
    async with CuttableProxy(db.host or "127.0.0.1", db.port) as proxy:
        port = free_port()
        via = db.set(port=proxy.port).render_as_string(hide_password=False)
        config = node_config(tmp_path, port, WORDS, via, "", extra=EXTRA, db_timeout="2s")
        log = tmp_path / "bot.log"
        async with (
            running_bot(config, port, log),
            FakeOneBot(f"ws://127.0.0.1:{port}/onebot/v11/ws", BOT, TOKEN, [group()]) as qq,
        ):
            await qq.send(qq.message(GROUP, 4000, text("你是测试脏话"), 1))  # before: direct
            await qq.wait_for(is_call("delete_msg", message_id=1))

            proxy.cut()
            plan = script()
            started = time.monotonic()
            for n, (message_id, user, body) in enumerate(plan):
                await qq.send(qq.message(GROUP, user, text(body), message_id))
                await qq.wait_for(is_call("delete_msg", message_id=message_id), within=10)
                # spread the violations over the whole outage
                pause = started + OUTAGE_S * (n + 1) / len(plan) - time.monotonic()
                await asyncio.sleep(max(0.0, pause))
            during = list(qq.calls)
            proxy.restore()

            for _ in range(200):  # retried with backoff (at most 5 s apart)
                if "database reachable again" in log.read_text("utf-8"):
                    break
                await asyncio.sleep(0.1)
            reported = [f"qq:{u})" for u in GAMBLERS]
            for _ in range(300):  # the outbox sends once it can read the queue again
                texts = [
                    seg["data"]["text"]
                    for c in qq.calls
                    if is_call("send_private_msg", user_id=OFFICER)(c)
                    for seg in c.params["message"]
                ]
                if all(any(r in t for t in texts) for r in reported):
                    break
                await asyncio.sleep(0.1)
            await all_recorded(pg_url, 1 + len(plan), len(GAMBLERS))  # before the bot stops
            bot_log = log.read_text("utf-8")

    # moderation went on during the outage: every message deleted, the ladder climbed
    ids = [message_id for message_id, _, _ in plan]
    assert sorted(c.params["message_id"] for c in during if c.action == "delete_msg") == [1, *ids]
    for user in OFFENDERS:
        assert sum(is_call("set_group_ban", user_id=user)(c) for c in during) == 1  # 2nd offence
    for user in GAMBLERS:
        assert sum(is_call("set_group_ban", user_id=user)(c) for c in during) == 1
    assert not any(c.action == "send_private_msg" for c in during)  # reports waited

    # afterwards: everything landed, once; reports sent once
    assert bot_log.count("database unreachable") == 1
    assert "database reachable again" in bot_log
    assert "moderation failed" not in bot_log
    # the store's own words (asyncpg may describe the cut as "unexpected connection_lost() call")
    assert "could not be written" not in bot_log and "write(s) lost" not in bot_log
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(cases.c.id, cases.c.message_id, cases.c.step))).all()
        kinds = (await conn.execute(select(actions.c.case_id, actions.c.kind))).all()
        sent = (await conn.execute(select(outbox.c.case_id, outbox.c.sent_at))).all()
    await engine.dispose()
    assert sorted(int(r.message_id) for r in rows) == [1, *ids]  # no lost, no doubled case
    per_case = Counter(kind for _, kind in kinds)
    assert per_case["delete"] == len(rows) and per_case["mute"] == len(OFFENDERS) + len(GAMBLERS)
    assert {case_id for case_id, _ in kinds} == {r.id for r in rows}
    assert len(sent) == len(GAMBLERS) and all(at is not None for _, at in sent)
    texts = [
        seg["data"]["text"]
        for c in qq.calls
        if c.action == "send_private_msg"
        for seg in c.params["message"]
    ]
    for user in GAMBLERS:
        assert sum(t.count(f"qq:{user})") for t in texts) == 1
    for case_id, _ in sent:  # reports name the real case number, not a provisional one
        assert sum(f"#{case_id}\n" in t for t in texts) == 1
    assert not any("#-" in t for t in texts)

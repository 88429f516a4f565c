"""Two bot processes, two QQ accounts (both admins of one group), one PostgreSQL, one Redis.

Every group event reaches both accounts, as QQ delivers it to every member, so
both processes see it; together they must act as one bot: one set of actions
and one case per violation, flooding counted across both (repeats split
between the two accounts' deliveries still trigger at the third), officer
reports sent once. Finally Redis becomes unreachable for both: they say so
once each, still act once per violation (the database refuses a second
claim), and share their state again when Redis is back.

The tests run in order on one cluster (starting two bots dominates the time).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from rules.storage.tables import actions, cases, outbox
from tests.e2e.onebot_client import Call, SimGroup, is_call, text
from tests.faults.proxy import CuttableProxy
from tests.multiproc.cluster import Cluster, running_cluster
from tests.services import checked_redis_url, fresh_pg_database, redis_namespace

pytestmark = pytest.mark.e2e

BOT_A, BOT_B, GROUP, OFFICER = 10001, 10002, 6001, 90001
WORDS = {"insult": ["测试脏话"], "gambling": ["测试赌局"]}
EXTRA = """
[ladder.severity]
insult = "medium"
gambling = "high"
flood = "high"
"""


def group() -> list[SimGroup]:
    sim = SimGroup(GROUP, "两个机器人的群")
    sim.add(BOT_A, "admin", "群卫士甲+办公室")
    sim.add(BOT_B, "admin", "群卫士乙+办公室")
    sim.add(1999, "owner", "王主任+办公室")
    for user in range(3001, 3030):
        sim.add(user, "member", f"成员{user}+教务处")
    return [sim]


@dataclass
class Setup:
    cluster: Cluster
    db: AsyncEngine
    redis: Redis
    prefix: str
    proxy: CuttableProxy  # between both bots and Redis


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with fresh_pg_database() as db_url:
        redis_url = await checked_redis_url()
        host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
        async with (
            redis_namespace(redis_url) as prefix,
            CuttableProxy(host, int(port)) as proxy,
            running_cluster(
                Path(tmp_path_factory.mktemp("cluster")),
                [BOT_A, BOT_B],
                group,
                words=WORDS,
                db_url=db_url,
                redis_url=f"redis://127.0.0.1:{proxy.port}/0",
                redis_prefix=prefix,
                extra=EXTRA,
            ) as cluster,
        ):
            db = create_async_engine(db_url)
            redis = Redis.from_url(redis_url)
            await warm_up(cluster)
            yield Setup(cluster, db, redis, prefix, proxy)
            await redis.aclose()
            await db.dispose()


async def warm_up(cluster: Cluster) -> None:
    """A clean message: each bot learns its own role in the group."""
    marks = cluster.marks()
    await cluster.deliver(GROUP, 3001, text("大家好"), 1)
    for account in (BOT_A, BOT_B):
        await cluster.wait_for(is_call("get_group_member_info", user_id=account), marks)


def warned(call: Call, user: int) -> bool:
    message = call.params.get("message")
    return (
        call.action == "send_group_msg"
        and isinstance(message, list)
        and message[0] == {"type": "at", "data": {"qq": str(user)}}
    )


def count(calls: list[Call], predicate: Any) -> int:
    return sum(1 for c in calls if predicate(c))


async def case_rows(db: AsyncEngine, message_ids: list[int]) -> list[Any]:
    async with db.connect() as conn:
        query = select(cases).where(cases.c.message_id.in_([str(m) for m in message_ids]))
        return list((await conn.execute(query)).all())


async def settle(seconds: float = 1.5) -> None:
    """Time for a duplicate action, if any process were to make one, to arrive."""
    await asyncio.sleep(seconds)


async def test_each_violation_is_acted_on_once(setup: Setup) -> None:
    cluster = setup.cluster
    marks = cluster.marks()
    offenders = {11: 3002, 12: 3003, 13: 3004, 14: 3005}
    await asyncio.gather(
        *(cluster.deliver(GROUP, u, text("你就是个测试脏话"), m) for m, u in offenders.items())
    )
    for message_id in offenders:
        await cluster.wait_for(is_call("delete_msg", message_id=message_id), marks)
    await settle()
    calls = cluster.since(marks)
    for message_id, user in offenders.items():
        assert count(calls, is_call("delete_msg", message_id=message_id)) == 1
        assert count(calls, lambda c, u=user: warned(c, u)) == 1
    rows = await case_rows(setup.db, list(offenders))
    assert sorted(int(r.message_id) for r in rows) == sorted(offenders)  # one case each
    async with setup.db.connect() as conn:
        done = (
            await conn.execute(
                select(actions.c.kind).where(actions.c.case_id.in_([r.id for r in rows]))
            )
        ).all()
    assert Counter(kind for (kind,) in done) == {"delete": 4, "warn": 4}


async def wait_counted(setup: Setup, user: int, message_id: int) -> None:
    """Until the shared flood windows have counted this message (its answer is stored)."""
    key = f"{setup.prefix}flood:qq:{GROUP}:qq:{user}"
    for _ in range(200):
        recent = await setup.redis.hget(key, "recent") or b""
        if f",{message_id}=".encode() in recent:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"message {message_id} was not counted in Redis")


async def flood_split_across_accounts(setup: Setup, user: int, first_id: int) -> list[Call]:
    """The same text three times: to bot A only, to bot B only, then to both."""
    cluster = setup.cluster
    marks = cluster.marks()
    await cluster.deliver(GROUP, user, text("在吗"), first_id, to=[0])
    await wait_counted(setup, user, first_id)
    await cluster.deliver(GROUP, user, text("在吗？"), first_id + 1, to=[1])
    await wait_counted(setup, user, first_id + 1)
    await cluster.deliver(GROUP, user, text("在 吗"), first_id + 2)
    await cluster.wait_for(is_call("set_group_ban", user_id=user), marks)
    await settle()
    return cluster.since(marks)


async def test_flooding_is_counted_across_both_processes(setup: Setup) -> None:
    # Each process alone saw the text only twice: without shared windows, no flood.
    calls = await flood_split_across_accounts(setup, 3010, 101)
    assert count(calls, is_call("set_group_ban", user_id=3010, duration=600)) == 1
    assert count(calls, lambda c: c.action == "delete_msg") == 1
    assert count(calls, is_call("delete_msg", message_id=103)) == 1
    [case] = await case_rows(setup.db, [101, 102, 103])
    assert case.message_id == "103" and case.findings[0]["detail"] == "x3"


async def test_officer_reports_are_sent_once(setup: Setup) -> None:
    cluster = setup.cluster
    marks = cluster.marks()
    gamblers = {201: 3011, 202: 3012, 203: 3013}
    await asyncio.gather(
        *(cluster.deliver(GROUP, u, text("测试赌局"), m) for m, u in gamblers.items())
    )
    reported = [*gamblers.values(), 3010]  # and the flood case above (severity high)

    def report_texts() -> list[str]:
        return [
            seg["data"]["text"]
            for c in cluster.calls
            if is_call("send_private_msg", user_id=OFFICER)(c)
            for seg in c.params["message"]
        ]

    for _ in range(300):
        if all(any(f"qq:{u})" in t for t in report_texts()) for u in reported):
            break
        await asyncio.sleep(0.05)
    await settle(5.0)  # two more polls of the outbox by whichever process holds its lease
    texts = report_texts()
    for user in reported:
        assert sum(t.count(f"qq:{user})") for t in texts) == 1, f"report on {user}: {texts}"
    senders = {c.self_id for c in cluster.calls if c.action == "send_private_msg"}
    assert len(senders) == 1  # only the outbox lease holder sends
    rows = await case_rows(setup.db, list(gamblers))
    async with setup.db.connect() as conn:
        queued = (
            await conn.execute(
                select(outbox.c.case_id, outbox.c.sent_at, outbox.c.attempts).where(
                    outbox.c.case_id.in_([r.id for r in rows])
                )
            )
        ).all()
    assert len(queued) == 3 and all(r.sent_at is not None and r.attempts == 1 for r in queued)
    assert len(cluster.since(marks)) > 0


def unreachable_lines(setup: Setup) -> list[int]:
    return [node.log_text().count("Redis unreachable") for node in setup.cluster.nodes]


async def test_without_redis_they_still_act_once_and_resume_sharing_after(setup: Setup) -> None:
    cluster = setup.cluster
    assert unreachable_lines(setup) == [0, 0]
    setup.proxy.cut()
    marks = cluster.marks()
    await cluster.deliver(GROUP, 3014, text("测试脏话"), 301)
    for n, variant in enumerate(["重复的话", "重复的话！", "重复 的话"]):
        await cluster.deliver(GROUP, 3015, text(variant), 311 + n)  # to both: counted locally
    await cluster.wait_for(is_call("delete_msg", message_id=301), marks)
    await cluster.wait_for(is_call("set_group_ban", user_id=3015), marks)
    for n in range(5):  # more traffic while Redis is away: still one log line per process
        await cluster.deliver(GROUP, 3016, text(f"普通消息{n}"), 320 + n)
    await settle()
    calls = cluster.since(marks)
    assert count(calls, is_call("delete_msg", message_id=301)) == 1  # the database's claim
    assert count(calls, is_call("set_group_ban", user_id=3015)) == 1
    assert unreachable_lines(setup) == [1, 1]

    setup.proxy.restore()
    for n in range(40):  # Redis is retried every 2 s, on the next use
        if all("Redis reachable again" in node.log_text() for node in cluster.nodes):
            break
        await cluster.deliver(GROUP, 3017, text(f"有人吗{n}"), 330 + n)
        await asyncio.sleep(0.25)
    assert all("Redis reachable again" in node.log_text() for node in cluster.nodes)
    calls = await flood_split_across_accounts(setup, 3018, 401)  # shared windows again
    assert count(calls, is_call("set_group_ban", user_id=3018)) == 1
    assert count(calls, is_call("delete_msg", message_id=403)) == 1
    assert unreachable_lines(setup) == [1, 1]
    for node in cluster.nodes:
        assert "moderation failed" not in node.log_text()

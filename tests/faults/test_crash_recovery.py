"""Crash, stop and restart in the middle of a violation burst: nothing lost, nothing done twice.

The real bot (``python bot.py``) against a fake NapCat account, on SQLite and
on PostgreSQL (``GROUPGUARD_TEST_PG_URL``). Every violation is critical
(delete, kick, warn, report to the officer). One burst catches the bot at
three points at once when it is killed with SIGKILL:

- **before the deletion**: group A's deletions are sent but never answered;
- **between deletion and report**: group B's ten cases are deleted and kicked,
  their warnings wait in the per-group pacer (one message per 2 s), their
  reports are held for the outcomes;
- **while a failing officer holds reports**: group C's cases are settled and
  their reports were tried, and refused (``retcode 1200``, QQ risk control).

After a restart (the officer reachable again) every case has all its actions
recorded (or ``unknown``), every report owed reaches the officer, the ones the
crash interrupted say the bot restarted mid-case, and no message is deleted
and no member kicked twice. SIGTERM in the same situation finishes the
handling in flight first: nothing is interrupted at all. A database outage
(PostgreSQL cut through a proxy) followed by SIGKILL and a restart replays the
writes kept on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rules.storage.tables import actions, cases, outbox, unsettled_cases
from tests.e2e.onebot_client import Call, FakeOneBot, SimGroup, free_port, running_bot, text
from tests.faults.proxy import CuttableProxy
from tests.multiproc.cluster import TOKEN, node_config

pytestmark = pytest.mark.e2e

BOT, OFFICER = 10000, 90001
A, B, C = 7001, 7002, (7003, 7004, 7005)
A_MEMBERS = [5001, 5002, 5003]
B_MEMBERS = list(range(5101, 5111))
C_MEMBERS = [5201, 5202, 5203]
WORDS = {"politics": ["测试反动"]}
CASE_REPORT = "【群卫士上报】案件 #"
EXTRA = """
[flood]
rate_limit = 0
"""


def sim_groups() -> list[SimGroup]:
    groups = []
    for gid, members in [(A, A_MEMBERS), (B, B_MEMBERS)] + [
        (g, [m]) for g, m in zip(C, C_MEMBERS, strict=True)
    ]:
        sim = SimGroup(gid, f"崩溃测试群{gid}")
        sim.add(BOT, "admin", "群卫士+办公室")
        for user in members:
            sim.add(user, "member", f"成员{user}+教务处")
        groups.append(sim)
    return groups


@dataclass
class Life:
    """One run of the bot: its fake NapCat account and its log."""

    qq: FakeOneBot
    proc: Any
    log: Path


class Burst:
    """The bot on one database, started and restarted; the calls of all its lives."""

    def __init__(self, tmp: Path, db_url: str | None, spool: Path | None = None) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.spool = spool
        self.groups = sim_groups()  # what kicks did stays across lives, as on QQ
        self.calls: list[Call] = []
        self.lives = 0

    def config(self, port: int) -> Path:
        """This life's config: its own port and log, the burst's database (and spool)."""
        directory = self.tmp / f"life{self.lives}"
        directory.mkdir()
        db = self.db_url or f"sqlite+aiosqlite:///{self.tmp / 'guard.db'}"
        config = node_config(directory, port, WORDS, db, "", extra=EXTRA, db_timeout="2s")
        body = config.read_text("utf-8").replace(
            f"port = {port}\n", f'port = {port}\nstop_grace = "60s"\n', 1
        )
        if self.spool is not None:
            body = body.replace("[database]\n", f'[database]\noutage_spool = "{self.spool}"\n', 1)
        config.write_text(body, "utf-8")
        return config

    @contextlib.asynccontextmanager
    async def life(self) -> AsyncIterator[Life]:
        self.lives += 1
        port = free_port()
        config = self.config(port)
        log = config.parent / "bot.log"
        async with running_bot(config, port, log) as proc:
            url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
            async with FakeOneBot(url, BOT, TOKEN, self.groups) as qq:
                qq.on_call = self.calls.append
                yield Life(qq, proc, log)

    def violation(self, qq: FakeOneBot, group: int, user: int, message_id: int) -> dict[str, Any]:
        return qq.message(group, user, text(f"测试反动言论{message_id}"), message_id)


async def kill(life: Life, how: signal.Signals) -> float:
    """Signal the bot; returns how long it took to exit (its fake account answering meanwhile)."""
    started = time.monotonic()
    os.killpg(life.proc.pid, how)
    await asyncio.to_thread(life.proc.wait, 90)
    return time.monotonic() - started


async def wait_calls(
    qq: FakeOneBot, action: str, count: int, within: float = 30.0, **params: Any
) -> None:
    deadline = time.monotonic() + within
    while True:
        found = [
            c
            for c in qq.calls
            if c.action == action and all(c.params.get(k) == v for k, v in params.items())
        ]
        if len(found) >= count:
            return
        assert time.monotonic() < deadline, f"{len(found)}/{count} {action} calls within {within}s"
        await asyncio.sleep(0.05)


def officer_texts(calls: list[Call]) -> list[str]:
    return [
        "".join(seg["data"].get("text", "") for seg in c.params["message"])
        if isinstance(c.params.get("message"), list)
        else str(c.params.get("message"))
        for c in calls
        if c.action == "send_private_msg" and c.params.get("user_id") == OFFICER
    ]


async def db_state(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                "cases": {
                    int(r.id): str(r.message_id)
                    for r in await conn.execute(select(cases.c.id, cases.c.message_id))
                },
                "actions": [
                    tuple(r)
                    for r in await conn.execute(
                        select(
                            actions.c.case_id, actions.c.kind, actions.c.status, actions.c.detail
                        )
                    )
                ],
                "reports": [  # the cases' reports (not the ban sweep's, the digest...)
                    tuple(r)
                    for r in await conn.execute(
                        select(outbox.c.case_id, outbox.c.sent_at, outbox.c.text, outbox.c.attempts)
                    )
                    if CASE_REPORT in r.text
                ],
                "unsettled": [r[0] for r in await conn.execute(select(unsettled_cases.c.case_id))],
            }
    finally:
        await engine.dispose()


async def until_reported(
    burst: Burst, url: str, expected: int, within: float = 60.0
) -> dict[str, Any]:
    """The database once every case's report is marked sent (or when time is up)."""
    deadline = time.monotonic() + within
    while True:
        state = await db_state(url)
        sent = [r for r in state["reports"] if r[1] is not None]
        if (len(sent) >= expected and not state["unsettled"]) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.3)


def no_double_action(calls: list[Call]) -> None:
    deleted = Counter(c.params["message_id"] for c in calls if c.action == "delete_msg")
    kicked = Counter(c.params["user_id"] for c in calls if c.action == "set_group_kick")
    assert [m for m, n in deleted.items() if n > 1] == [], "a message deleted twice"
    assert [u for u, n in kicked.items() if n > 1] == [], "a member kicked twice"


@pytest.fixture
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str | None, str]]:
    """(the URL the bot is given or None for its own SQLite file, the URL to check with)."""
    if request.param == "sqlite":
        yield None, f"sqlite+aiosqlite:///{tmp_path / 'guard.db'}"
        return
    url = request.getfixturevalue("pg_url")
    yield url, url


@pytest.mark.parametrize("any_db", ["sqlite", "postgresql"], indirect=True)
async def test_sigkill_at_three_points_of_a_burst_loses_nothing_and_repeats_nothing(
    tmp_path: Path, any_db: tuple[str | None, str]
) -> None:
    bot_url, url = any_db
    burst = Burst(tmp_path, bot_url)
    a_messages = [3001, 3002, 3003]
    b_messages = list(range(3101, 3111))
    c_messages = [3201, 3202, 3203]
    async with burst.life() as first:
        qq = first.qq
        qq.failing["send_private_msg"] = (1200, "risk control: message not sent")
        qq.unanswered = lambda c: c.action == "delete_msg" and c.params["message_id"] in a_messages
        for group, user, mid in zip(
            C, C_MEMBERS, c_messages, strict=True
        ):  # settled; the officer refuses
            await qq.send(burst.violation(qq, group, user, mid))
        await wait_calls(qq, "send_private_msg", 1, user_id=OFFICER)  # tried and refused
        for user, mid in zip(
            B_MEMBERS, b_messages, strict=True
        ):  # warnings wait in the group's pacer
            await qq.send(burst.violation(qq, B, user, mid))
        await wait_calls(qq, "set_group_kick", len(B_MEMBERS), group_id=B)
        for user, mid in zip(A_MEMBERS, a_messages, strict=True):  # deletions sent, never answered
            await qq.send(burst.violation(qq, A, user, mid))
        await wait_calls(qq, "delete_msg", len(a_messages) + 13)
        await asyncio.sleep(0.3)  # the warnings of B still waiting
        assert (
            sum(c.action == "send_group_msg" and c.params["group_id"] == B for c in qq.calls) < 10
        )
        await kill(first, signal.SIGKILL)

    before = await db_state(url)
    planned = {c for c, _, status, _ in before["actions"] if status == "planned"}
    assert len(before["cases"]) == 16 and planned
    cut_off = {before["cases"][c] for c in before["unsettled"]}  # A's, and B's still warning
    assert {str(m) for m in a_messages} < cut_off and cut_off & {str(m) for m in b_messages}

    async with burst.life() as second:
        after = await until_reported(burst, url, expected=16)
        reports_seen = officer_texts(second.qq.calls)
        log = second.log.read_text("utf-8", errors="replace")

    # every case has all its actions recorded, or unknown; nothing is still planned
    assert after["unsettled"] == []
    statuses = Counter(status for _, _, status, _ in after["actions"])
    assert statuses.keys() <= {"done", "failed", "unknown"}, statuses
    by_message = {after["cases"][c]: {} for c in after["cases"]}
    for case_id, kind, status, _ in after["actions"]:
        by_message[after["cases"][case_id]][kind] = status
    for mid in a_messages:  # killed before the deletion: unknown; the kick never went out
        assert by_message[str(mid)] == {
            "delete": "unknown",
            "kick": "failed",
            "warn": "unknown",
            "escalate": "done",
        }
    for mid in b_messages:  # deleted and kicked before the kill: recorded; some warnings unknown
        assert by_message[str(mid)]["delete"] == by_message[str(mid)]["kick"] == "done"
    for mid in c_messages:
        assert set(by_message[str(mid)].values()) == {"done"}

    # every report owed reached the officer, once per case, the interrupted ones saying so
    sent = {case_id: text for case_id, sent_at, text, _ in after["reports"] if sent_at is not None}
    assert set(sent) == set(after["cases"])
    joined = "\n".join(reports_seen)
    for case_id in after["cases"]:
        assert f"#{case_id}" in joined
    restarted = {c for c, t in sent.items() if t.startswith("【注意】群卫士在处理本案件时重启")}
    assert restarted == {c for c, m in after["cases"].items() if m in cut_off}

    # nothing done twice; after the restart nothing was done again at all
    no_double_action(burst.calls)
    assert not [c for c in second.qq.calls if c.action in ("delete_msg", "set_group_kick")]
    assert "Traceback" not in log


@pytest.mark.parametrize("any_db", ["sqlite", "postgresql"], indirect=True)
async def test_sigterm_in_a_burst_finishes_what_is_in_flight(
    tmp_path: Path, any_db: tuple[str | None, str]
) -> None:
    bot_url, url = any_db
    burst = Burst(tmp_path, bot_url)
    b_messages = list(range(3101, 3107))
    async with burst.life() as first:
        qq = first.qq
        qq.failing["send_private_msg"] = (1200, "risk control: message not sent")
        for user, mid in zip(B_MEMBERS[: len(b_messages)], b_messages, strict=True):
            await qq.send(burst.violation(qq, B, user, mid))
        await wait_calls(qq, "set_group_kick", len(b_messages), group_id=B)
        waiting = sum(c.action == "send_group_msg" for c in qq.calls)
        assert waiting < len(b_messages)  # warnings still wait in the pacer
        took = await kill(first, signal.SIGTERM)
        log = first.log.read_text("utf-8", errors="replace")
        warned = sum(c.action == "send_group_msg" and c.params["group_id"] == B for c in qq.calls)
    assert warned == len(b_messages)  # the stop let every warning go out first
    assert took < 60 and "0 case(s) interrupted" in log
    state = await db_state(url)
    assert state["unsettled"] == []
    assert {status for _, _, status, _ in state["actions"]} == {"done"}  # nothing interrupted

    async with burst.life():
        after = await until_reported(burst, url, expected=len(b_messages))
    assert len([r for r in after["reports"] if r[1] is not None]) == len(b_messages)
    assert not any(t.startswith("【注意】") for _, _, t, _ in after["reports"])
    no_double_action(burst.calls)


async def test_a_crash_during_a_database_outage_replays_the_spool_after_the_restart(
    tmp_path: Path, pg_url: str
) -> None:
    db = make_url(pg_url)
    assert db.port is not None
    async with CuttableProxy(db.host or "127.0.0.1", db.port) as proxy:
        via = db.set(port=proxy.port).render_as_string(hide_password=False)
        burst = Burst(tmp_path, via, spool=tmp_path / "outage.spool")
        messages = [3201, 3202, 3203]
        async with burst.life() as first:
            qq = first.qq
            await qq.send(burst.violation(qq, C[0], C_MEMBERS[0], 3200))  # before: direct
            await wait_calls(qq, "set_group_kick", 1)
            proxy.cut()
            for group, user, mid in zip(
                (*C[1:], A), C_MEMBERS[1:] + A_MEMBERS[:1], messages, strict=True
            ):
                await qq.send(burst.violation(qq, group, user, mid))
            await wait_calls(qq, "set_group_kick", 4, within=40)  # moderation went on
            await wait_calls(qq, "send_group_msg", 4, within=40)
            await asyncio.sleep(0.5)
            assert (tmp_path / "outage.spool").stat().st_size > 0  # kept on disk
            await kill(first, signal.SIGKILL)
        proxy.restore()
        async with burst.life() as second:
            after = await until_reported(burst, pg_url, expected=4)
            log = second.log.read_text("utf-8", errors="replace")
    assert sorted(after["cases"].values()) == ["3200", "3201", "3202", "3203"]
    assert after["unsettled"] == []
    assert {status for _, _, status, _ in after["actions"]} == {"done"}
    assert len([r for r in after["reports"] if r[1] is not None]) == 4
    assert "written first" in log or "writing them first" in log
    assert not (tmp_path / "outage.spool").exists()
    no_double_action(burst.calls)

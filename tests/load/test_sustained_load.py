"""Sustained load over the real WebSocket: the QQ benchmark's mixed stream, for minutes.

The real bot (``python bot.py``, SQLite) and a fake NapCat account pushing the
stream of ``bench.qq_e2e`` (20 groups x 100 members, 10% violations) at a fixed
rate. Afterwards: every violation has exactly one case (with its outcomes
recorded) and had its message deleted once, the bot's own count of events
handled equals the events sent (none dropped), nothing was logged as an error,
and the bot's resident memory in the last third of the run is not above the
first third's (flat, not growing with the events handled). The figures are
printed and written to ``build/load-report.txt``.

Duration and rate: ``GROUPGUARD_LOAD_SECONDS`` (default 180) and
``GROUPGUARD_LOAD_RATE`` (default 1500 events/s: ``make bench-qq`` keeps up with
2,000/s on the reference machine, but with one core saturated, so a backlog
builds and memory grows with it; 1,500/s leaves headroom). The checks do not
depend on speed: a bot that falls behind only takes longer to drain (up to
``DRAIN_LIMIT``).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from bench.qq_e2e import (
    BOT,
    EXTRA,
    TOKEN,
    WORDS,
    ProcessCpu,
    Result,
    build_stream,
    push,
    sim_groups,
    warm_up,
)
from tests.e2e.onebot_client import ROOT, FakeOneBot, free_port, running_bot, write_config

pytestmark = pytest.mark.e2e

SECONDS = float(os.environ.get("GROUPGUARD_LOAD_SECONDS", "180"))
RATE = float(os.environ.get("GROUPGUARD_LOAD_RATE", "1500"))
VIOLATIONS = 0.1
SAMPLE_EVERY = 2.0  # seconds between memory samples
DRAIN_LIMIT = 120.0  # seconds the bot may take after the stream to finish every case
# Repeat offenders are warned, then muted (the stream has every member offend again and
# again, which with the default ladder would end in kicks of members who keep talking).
LADDER = """
[ladder]
steps = ["warn", "mute 10m"]
"""
REPORT = ROOT / "build" / "load-report.txt"
STATS = re.compile(
    r"stats at shutdown: events ([\d,]+), cases ([\d,]+), failed actions ([\d,]+), "
    r"notices skipped ([\d,]+)"
)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def sample_memory(pid: int, into: list[float]) -> None:
    while True:
        into.append(rss_mb(pid))
        await asyncio.sleep(SAMPLE_EVERY)


def thirds(samples: list[float]) -> tuple[float, float]:
    """Peak RSS in the first and in the last third of the run."""
    third = max(1, len(samples) // 3)
    return max(samples[:third]), max(samples[-third:])


def unfinished(db: Path) -> int:
    """Cases whose outcomes are not recorded yet (their handling has not finished)."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM cases WHERE id NOT IN (SELECT case_id FROM actions) "
            "OR id IN (SELECT case_id FROM unsettled_cases)"
        ).fetchone()
    return int(row[0])


async def until_finished(db: Path, expected_cases: int) -> None:
    """Wait until ``expected_cases`` cases exist and all have their outcomes (or time out)."""
    deadline = asyncio.get_running_loop().time() + DRAIN_LIMIT
    while asyncio.get_running_loop().time() < deadline:
        found = await asyncio.to_thread(case_counts, db)
        if sum(found.values()) >= expected_cases and await asyncio.to_thread(unfinished, db) == 0:
            return
        await asyncio.sleep(0.5)


def case_counts(db: Path) -> Counter[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT message_id FROM cases WHERE message_id IS NOT NULL").fetchall()
    return Counter(str(row[0]) for row in rows)


async def test_a_sustained_mixed_stream_loses_nothing_and_memory_stays_flat(
    tmp_path: Path,
) -> None:
    groups = sim_groups()
    port = free_port()
    config = write_config(tmp_path, port, TOKEN, WORDS, EXTRA + LADDER)
    config.write_text(
        config.read_text().replace("[server]\n", '[server]\nstats_interval = "30s"\n'), "utf-8"
    )
    log_path = tmp_path / "bot.log"
    memory: list[float] = []
    async with (
        running_bot(config, port, log_path, {"LOG_LEVEL": "INFO"}) as proc,
        FakeOneBot(f"ws://127.0.0.1:{port}/onebot/v11/ws", BOT, TOKEN, groups) as qq,
    ):
        cpu = ProcessCpu(proc.pid)
        await warm_up(qq, groups, cpu)
        warm_events = sum(len(g.members) - 1 for g in groups)  # every member but the bot spoke
        stream = build_stream(qq, round(SECONDS * RATE), VIOLATIONS, seed=7)
        sampler = asyncio.create_task(sample_memory(proc.pid, memory))
        # The same members throughout (muted ones go on posting): memory must not grow
        # with the events handled. The bench's stand-ins would bring new members without
        # end, whose state grows until its bounds.
        result = await push(qq, stream, RATE, "sustained load", cpu, stand_ins=False)
        sampler.cancel()
        violations = {str(item.message_id) for item in stream if item.violation}
        await until_finished(tmp_path / "guard.db", len(violations))
        peak_mb = max(memory)
        deleted = Counter(str(c.params["message_id"]) for c in qq.calls if c.action == "delete_msg")
    log = log_path.read_text(errors="replace")
    stats = STATS.search(log)
    assert stats is not None, "the bot logged no stats at shutdown"
    handled, cases_counted, failed, skipped = (int(g.replace(",", "")) for g in stats.groups())
    cases = case_counts(tmp_path / "guard.db")
    first_mb, last_mb = thirds(memory)
    report = figures(result, handled, len(cases), (failed, skipped), first_mb, last_mb, peak_mb)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report + "\n", encoding="utf-8")
    print(report)

    assert handled == warm_events + len(stream)  # no event dropped
    assert set(cases) == violations and set(cases.values()) == {1}  # one case per violation
    assert cases_counted == len(violations)  # and each one's handling finished
    assert {m for m in deleted if m in violations} == violations
    assert all(deleted[m] == 1 for m in violations)  # each deleted once
    errors = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
    assert errors == []
    assert last_mb <= first_mb * 1.1 + 5, f"memory grew: {first_mb:.0f} -> {last_mb:.0f} MB"


def figures(
    result: Result,
    handled: int,
    cases: int,
    failed_skipped: tuple[int, int],
    first_mb: float,
    last_mb: float,
    peak_mb: float,
) -> str:
    return "\n".join(
        [
            *result.lines(),
            f"  bot counted: {handled:,} events handled (warm-up included), {cases:,} cases "
            f"in the database for {result.violations:,} violations, {failed_skipped[0]:,} failed "
            f"actions, {failed_skipped[1]:,} notices held back by the rate limits",
            f"  memory:      peak RSS {peak_mb:.0f} MB; peak in the first third {first_mb:.0f} MB, "
            f"in the last third {last_mb:.0f} MB",
        ]
    )

"""The officer console with real history: p95 server-side time of the overview and the case list.

Fills a fresh database with ``--cases`` cases (default 200,000) spread over
``--days`` days (default 365) in 50 groups and 5,000 members, each with its
findings, one strike and two or three actions (1% failed), then asks the
console for its pages through its ASGI app (no socket: server-side time only,
query plus template) as a global officer (every group) and as an officer of
five groups, and prints p50 / p95 / max per page.

The overview three ways: with nothing kept (its 29 finished days counted from
the cases: what the counting job does once, and what every cold overview did
before the days were kept in ``console_daily``), after a restart (the days
kept in the database, nothing in memory: the cold case now), and warm.

    .venv/bin/python -m bench.console [--cases 200000] [--days 365] [--runs 40]

SQLite always; PostgreSQL too when ``GROUPGUARD_TEST_PG_URL`` is set (see
``scripts/test-services.sh env``): a database is created for the run and
dropped after. Target: under 300 ms p95 for the overview and the case list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from plugins.console.app import Console, mount_console
from plugins.console.auth import ConsoleAuth
from rules.commands import CommandRequest
from rules.config import ConsoleSettings, parse_config
from rules.core.ports import AuditEntry
from rules.storage.console_queries import ConsoleQueries, SqlConsoleAuth
from rules.storage.database import Database
from rules.storage.tables import (
    actions,
    cases,
    console_daily,
    console_days,
    groups,
    members,
    strikes,
    tasks,
)

GROUPS = [f"qq:{700000 + n}" for n in range(50)]
SCOPED = GROUPS[:5]
GLOBAL_OFFICER = "qq:900001"
GROUP_OFFICER = "qq:900002"
# (category, share of cases); the last ones are rare on purpose
CATEGORIES = [
    ("ads", 0.34),
    ("flood", 0.2),
    ("gambling", 0.12),
    ("insult", 0.1),
    ("pii", 0.08),
    ("nickname", 0.07),
    ("porn", 0.05),
    ("politics", 0.03),
    ("fraud", 0.009),
    ("cult", 0.001),
]
TEXTS = ["加我微信领红包 {n}", "网赌包赢，私聊 {n}", "刷屏刷屏刷屏 {n}", "你是傻子吧 {n}"]


class NoCommands:
    async def handle(self, request: CommandRequest) -> str | None:
        return None


class NoAudit:
    async def record_audit(self, entry: AuditEntry) -> None:
        return None


def _rows(total: int, days: int, now: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row to insert, table by table order kept per case (ids assigned in order)."""
    rng = random.Random(20261124)
    names = [c for c, _ in CATEGORIES]
    weights = [w for _, w in CATEGORIES]
    span = days * 86400
    # Cases arrive in time order, as the bot writes them.
    offsets = sorted((rng.random() * span for _ in range(total)), reverse=True)
    for case_id, offset in enumerate(offsets, 1):
        at = now - timedelta(seconds=offset)
        group = GROUPS[min(int(rng.paretovariate(1.2)) - 1, len(GROUPS) - 1)]
        member = f"qq:{2000000 + rng.randrange(5000)}"
        category = rng.choices(names, weights)[0]
        text = rng.choice(TEXTS).format(n=case_id)
        findings = [
            {
                "detector": "keyword",
                "category": category,
                "match": text[:2],
                "start": 0,
                "end": 2,
                "detail": "",
            }
        ]
        status = (
            "pardoned" if rng.random() < 0.01 else ("upheld" if rng.random() < 0.02 else "open")
        )
        yield (
            "cases",
            {
                "id": case_id,
                "group_id": group,
                "member_id": member,
                "member_card": f"成员{member[-4:]}+办公室",
                "message_id": f"m{case_id}",
                "evidence": text,
                "normalized": text,
                "findings": findings,
                "step": 1,
                "status": status,
                "created_at": at,
            },
        )
        yield (
            "strikes",
            {
                "group_id": group,
                "member_id": member,
                "weight": 1,
                "at": at,
                "case_id": case_id,
                "voided": status == "pardoned",
            },
        )
        kinds = ["delete", "warn"] + (["mute"] if rng.random() < 0.3 else [])
        for kind in kinds:
            failed = rng.random() < 0.01
            yield (
                "actions",
                {
                    "case_id": case_id,
                    "kind": kind,
                    "target_id": member,
                    "status": "failed" if failed else "done",
                    "detail": "timeout" if failed else "",
                    "duration_s": 600 if kind == "mute" else None,
                    "at": at,
                },
            )
        if rng.random() < 0.002:
            yield (
                "tasks",
                {
                    "kind": "appeal",
                    "group_id": group,
                    "case_id": case_id,
                    "requester_id": member,
                    "subject_id": member,
                    "text": "误判",
                    "evidence": "",
                    "status": "open",
                    "created_at": at,
                },
            )


def _extra(now: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    for n, group in enumerate(GROUPS):
        yield (
            "groups",
            {
                "id": group,
                "platform": "qq",
                "name": f"测试单位{n}群",
                "first_seen": now - timedelta(days=400),
                "last_activity": now - timedelta(hours=n),
            },
        )


def db_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite dialect stores it in our tables (naive UTC text times)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


TABLES = {t.name: t for t in (cases, strikes, actions, tasks, groups, members)}


def fill_sqlite(path: Path, total: int, days: int, now: datetime) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    batches: dict[str, list[dict[str, Any]]] = {}

    def flush() -> None:
        for table, rows in batches.items():
            if rows:
                columns = list(rows[0])
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                conn.executemany(sql, [tuple(db_value(r[c]) for c in columns) for r in rows])
            rows.clear()

    for table, row in [*_extra(now), *_rows(total, days, now)]:
        batches.setdefault(table, []).append(row)
        if len(batches[table]) >= 20000:
            flush()
    flush()
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def fill_postgres(url: str, total: int, days: int, now: datetime) -> None:
    engine = create_async_engine(url)
    batches: dict[str, list[dict[str, Any]]] = {}

    async def flush() -> None:
        async with engine.begin() as conn:
            for table, rows in batches.items():
                if rows:
                    await conn.execute(insert(TABLES[table]), rows)
                rows.clear()

    for table, row in [*_extra(now), *_rows(total, days, now)]:
        batches.setdefault(table, []).append(row)
        if len(batches[table]) >= 5000:
            await flush()
    await flush()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE")
    await engine.dispose()


def _console(database: Database, now: datetime) -> Console:
    config = parse_config(
        {
            "escalation": {"officers": [GLOBAL_OFFICER]},
            "groups": {g: {"escalation": {"officers": [GROUP_OFFICER]}} for g in SCOPED},
        }
    )
    settings = ConsoleSettings()
    return Console(
        config=config,
        settings=settings,
        queries=ConsoleQueries(database),
        auth=ConsoleAuth(SqlConsoleAuth(database), settings, "http://127.0.0.1:8080", lambda: now),
        commands=NoCommands(),
        audit=NoAudit(),
        clock=lambda: now,
    )


async def _nothing() -> None:
    return None


async def _timed(
    client: httpx.AsyncClient,
    path: str,
    runs: int,
    before: Callable[[], Awaitable[None]] = _nothing,
) -> list[float]:
    for _ in range(3):  # warm-up: statement compilation
        (await client.get(path)).raise_for_status()
    times = []
    for _ in range(runs):
        await before()
        start = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


async def _deep_cursor(client: httpx.AsyncClient, pages: int) -> str:
    """The case list's URL ``pages`` pages deep (following its own "more" links)."""
    url = "/console/cases"
    for _ in range(pages):
        html = (await client.get(url)).text
        more = re.search(r'<li class="more"><a href="(/console/cases\?[^"]+)"', html)
        assert more, "ran out of pages"
        url = more[1].replace("&amp;", "&")
    return url


async def measure(
    url: str, label: str, runs: int, now: datetime
) -> list[tuple[str, str, list[float]]]:
    database = await Database.open(url)
    console = _console(database, now)
    app = FastAPI()
    mount_console(app, console)
    results = []
    try:
        for who, person in (("all groups", GLOBAL_OFFICER), ("5 groups", GROUP_OFFICER)):
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
            )
            issued = await console.issue_link(person, "bench")
            assert issued is not None
            token = issued[0].rsplit("t=", 1)[1]
            signed_in = await client.post("/console/login", data={"t": token})
            assert signed_in.status_code == 303, signed_in.text
            pages = {
                "overview, warm (sums in memory)": "/console/",
                "case list, first page": "/console/cases",
                "case list, page 40": await _deep_cursor(client, 39),
                "filter: one group": f"/console/cases?group={SCOPED[1]}",
                "filter: one member": "/console/cases?member=2000042",
                "filter: category ads": "/console/cases?category=ads",
                "filter: category cult (0.1%)": "/console/cases?category=cult",
                "filter: status pardoned": "/console/cases?status=pardoned",
                "filter: one day, 60 days ago": "/console/cases?from={d}&to={d}".format(
                    d=(now - timedelta(days=60)).date().isoformat()
                ),
            }

            async def restarted() -> None:  # the days are kept in the database
                console.overview.forget()

            async def first_ever() -> None:  # nothing kept: 29 days counted (the job's work)
                console.overview.forget()
                async with database.write() as conn:
                    await conn.execute(delete(console_daily))
                    await conn.execute(delete(console_days))

            first = await _timed(client, "/console/", max(runs // 4, 5), first_ever)
            results.append((label, f"{who}: overview, nothing kept (29 days counted)", first))
            cold = await _timed(client, "/console/", runs, restarted)
            results.append((label, f"{who}: overview after a restart (days kept)", cold))
            for name, path in pages.items():
                results.append((label, f"{who}: {name}", await _timed(client, path, runs)))
            await client.aclose()
    finally:
        await database.close()
    return results


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: list[tuple[str, str, list[float]]]) -> None:
    print(f"{'database':<11} {'page':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, name, times in results:
        print(
            f"{label:<11} {name:<46} {statistics.median(times):8.1f} "
            f"{_p(times, 0.95):8.1f} {max(times):8.1f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="gg-bench-console-") as folder:
            path = Path(folder) / "console.db"
            url = f"sqlite+aiosqlite:///{path}"
            await (await Database.open(url)).close()  # migrate
            start = time.perf_counter()
            fill_sqlite(path, args.cases, args.days, now)
            print(
                f"SQLite: {args.cases} cases over {args.days} days loaded"
                f" in {time.perf_counter() - start:.1f} s"
            )
            results += await measure(url, "SQLite", args.runs, now)

    base = os.environ.get("GROUPGUARD_TEST_PG_URL", "")
    if base:
        name = f"gg_bench_{uuid.uuid4().hex[:10]}"
        admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        try:
            await (await Database.open(url)).close()  # migrate
            start = time.perf_counter()
            await fill_postgres(url, args.cases, args.days, now)
            print(f"PostgreSQL: loaded in {time.perf_counter() - start:.1f} s")
            results += await measure(url, "PostgreSQL", args.runs, now)
        finally:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.dispose()
    else:
        print("PostgreSQL: skipped (GROUPGUARD_TEST_PG_URL is unset; see scripts/test-services.sh)")
    report(results)


if __name__ == "__main__":
    asyncio.run(main())

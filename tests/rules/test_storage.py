"""Storage: migrations on a fresh database, WAL, aware times, the outbox.

Tests taking ``db_url`` run on a SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from rules.core.model import Finding, Platform, Strike
from rules.core.ports import AuditEntry
from rules.officers.outbox import OutboxSender, retry_delay
from rules.storage import Storage
from rules.storage.database import resolve_url, safe_url
from rules.storage.migrate import MIGRATIONS
from rules.storage.tables import metadata
from rules.text.normalize import fold
from tests.fakes import T0, Clock, FakeGateway, message

ROOT = Path(__file__).resolve().parents[2]


async def test_migrations_create_every_table_on_a_fresh_database(db_url: str) -> None:
    storage = await Storage.open(db_url)
    async with storage.database.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        heads = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    await storage.close()
    assert set(metadata.tables) <= names
    assert heads  # one row per head (migrations written side by side from one revision)
    again = await Storage.open(db_url)  # re-opening an up-to-date database is a no-op
    async with again.database.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    await again.close()
    assert sorted(versions) == sorted(heads)


def _alembic(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_migrations_have_one_head() -> None:
    # so `alembic ... upgrade head` (the README's instruction for a new migration) works
    # and a new migration has one parent: branches written side by side get a merge
    assert len(ScriptDirectory.from_config(_alembic()).get_heads()) == 1


async def test_a_database_at_the_old_branch_heads_joins_the_merge(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_heads = ["0006", "0007", "0009", "0010"]  # where wave 2's third session left one
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for head in old_heads:
            command.upgrade(_alembic(conn), head)
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert sorted(r[0] for r in rows) == old_heads
    storage = await Storage.open(f"sqlite+aiosqlite:///{path}")  # migrates at start
    try:
        async with storage.database.engine.connect() as aconn:
            rows = (await aconn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await storage.close()
    assert [r[0] for r in rows] == ["0011"]


async def test_sqlite_file_gets_its_folder_and_wal(tmp_path: Path) -> None:
    url = resolve_url("sqlite+aiosqlite:///nested/dir/gg.db", tmp_path)
    assert (tmp_path / "nested" / "dir").is_dir()
    storage = await Storage.open(url)
    async with storage.database.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
    await storage.close()
    assert mode == "wal"


async def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    storage = await Storage.open(db_url)
    async with storage.database.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), metadata)
        )
    await storage.close()
    assert diff == [], "tables.py changed without a migration"


@pytest.mark.parametrize("offline", [False, True], ids=["live", "offline"])
async def test_strikes_cases_and_times_round_trip(db_url: str, offline: bool) -> None:
    storage = await Storage.open(db_url, offline=offline, normalize=fold)
    event = message("身份证 110105********0019", at=T0)
    pii = Finding("pii", "pii", "110105********0019", 4, 22)
    case_id = await storage.journal.open_case(event, (pii,), 1, T0)
    await storage.journal.add_strike(Strike("qq:1001", "qq:2001", 2, T0, case_id))
    await storage.journal.add_strike(Strike("qq:1001", "qq:2001", 1, T0 - timedelta(days=40)))
    assert await storage.journal.strike_weight("qq:1001", "qq:2001", T0 - timedelta(days=30)) == 2
    assert await storage.journal.strike_weight("qq:1001", "other", T0 - timedelta(days=30)) == 0
    assert await storage.journal.claim_message("qq:1001", "m1", T0) is True
    assert await storage.journal.claim_message("qq:1001", "m1", T0) is False
    await storage.journal.record_audit(AuditEntry("qq:1", "qq:1001", "/mute @x 10m", "refused", T0))
    await storage.journal.note_member(event)
    await storage.journal.note_member(event)  # update path
    await storage.journal.close()  # offline, members are written together at the end
    async with storage.database.read() as conn:
        row = (await conn.execute(text("SELECT evidence, normalized FROM cases"))).one()
    assert row[0] == "身份证 110105********0019"
    assert row[1] == "身份证10105019"  # folded (noise and repeats dropped), still masked
    await storage.close()


async def test_outbox_retries_with_backoff_until_delivered(db_url: str) -> None:
    url = db_url
    clock = Clock()
    storage = await Storage.open(url)
    await storage.journal.enqueue_report("qq:900", "report 1", None, clock())
    down = FakeGateway(private_fails=True)
    assert await OutboxSender(storage.outbox, {Platform.QQ: down}, clock).flush() == 0
    assert await storage.outbox.due_reports(clock()) == []  # not due until the backoff passes
    await storage.close()

    storage = await Storage.open(url)  # a restart: the report is still queued
    up = FakeGateway()
    clock.advance(retry_delay(0))
    sender = OutboxSender(storage.outbox, {Platform.QQ: up}, clock)
    assert await sender.flush() == 1
    assert await sender.flush() == 0  # delivered once
    assert up.private == [("qq:900", "report 1")]
    await storage.close()


async def test_report_to_a_platform_without_connection_waits(db_url: str) -> None:
    storage = await Storage.open(db_url)
    clock = Clock()
    await storage.journal.enqueue_report("wechat:wxid_o", "r", None, clock())
    assert await OutboxSender(storage.outbox, {}, clock).flush() == 0
    clock.advance(timedelta(hours=2))
    [item] = await storage.outbox.due_reports(clock())
    assert item.attempts == 1
    await storage.close()


async def test_a_burst_reaches_each_officer_as_one_message(db_url: str) -> None:
    storage = await Storage.open(db_url)
    clock = Clock()
    for n in range(12):
        await storage.journal.enqueue_report("qq:900", f"case {n}", None, clock())
    await storage.journal.enqueue_report("qq:901", "other officer", None, clock())
    gateway = FakeGateway()
    assert await OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock).flush() == 13
    to_900 = [text for who, text in gateway.private if who == "qq:900"]
    assert len(to_900) == 2  # at most MAX_BATCH (10) reports per message
    assert to_900[0].startswith("【群卫士】共10条上报") and "(10) case 9" in to_900[0]
    assert "(2) case 11" in to_900[1]
    assert ("qq:901", "other officer") in gateway.private
    await storage.close()


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 30), (1, 60), (3, 240), (20, 3600)])
def test_retry_delay(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts).total_seconds() == seconds


def test_safe_url_hides_password() -> None:
    assert "secret" not in safe_url("postgresql+asyncpg://gg:secret@db/gg")


async def test_two_processes_noting_the_same_new_member_do_not_collide(db_url: str) -> None:
    one, other = await Storage.open(db_url), await Storage.open(db_url)
    for n in range(5):  # both bots see each new member's first message at the same moment
        event = message("hi", user=f"qq:{3000 + n}", group=f"qq:{7000 + n}", card=f"卡{n}")
        await asyncio.gather(one.journal.note_member(event), other.journal.note_member(event))
        await asyncio.gather(
            one.compliance.flag_member(event.group_id, event.member.id, "bad card", T0),
            other.compliance.flag_member(event.group_id, event.member.id, "bad card", T0),
        )
    changed = message("hi", user="qq:3000", group="qq:7000", card="张三+办公室")
    await one.journal.note_member(changed)
    async with one.database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT member_id, card FROM members"))).all()
        group_count = (await conn.execute(text("SELECT count(*) FROM groups"))).scalar_one()
    assert len(rows) == 5 and group_count == 5
    assert ("qq:3000", "张三+办公室") in [tuple(r) for r in rows]
    assert len(await one.compliance.flagged_members()) == 5
    await one.close()
    await other.close()


async def test_processes_starting_together_migrate_once(pg_url: str) -> None:
    """Bots started together on an empty PostgreSQL database: one migrates, none fails."""
    script = (
        "import asyncio, sys\n"
        "from rules.storage import Storage\n"
        "async def main():\n"
        "    await (await Storage.open(sys.argv[1])).close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, pg_url, cwd=ROOT, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    errors = [(await p.communicate())[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    storage = await Storage.open(pg_url)
    async with storage.database.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    await storage.close()
    assert len(versions) == len(set(versions))  # each head once: migrated once


async def test_an_offline_batch_commits_before_any_other_write(tmp_path: Path) -> None:
    """Offline, the journal's transaction stays open; a repository writing through
    SQLAlchemy (a card timeline during a scan) gets the database after it commits."""
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'gg.db'}", offline=True)
    event = message("x", at=T0)
    case_id = await storage.journal.open_case(event, (), 1, T0, strike_weight=2)
    await storage.compliance.flag_member("qq:1001", "qq:2001", "bad card", T0)
    assert await storage.journal.strike_weight("qq:1001", "qq:2001", T0) == 2
    assert (await storage.cases.get_case(case_id)) is not None  # committed: others see it
    await storage.close()


def test_importing_storage_loads_only_the_core() -> None:
    """No text layer, keyword automaton or jieba behind the SQL store."""
    script = (
        "import sys, rules.storage, rules.storage.resilient\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('rules.')\n"
        "                and not m.startswith(('rules.core', 'rules.storage')))\n"
        "print(loaded, 'jieba' in sys.modules)\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[] False"

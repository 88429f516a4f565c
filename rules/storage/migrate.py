"""Apply the Alembic migrations to a database, from inside the async store."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Several bot processes may start at once on one PostgreSQL database: they take
# this advisory lock in the migration transaction, so one migrates and the
# others then find the schema up to date.
MIGRATION_LOCK = 0x67726F7570  # "group"


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    # "heads": migrations written side by side on branches from one revision all apply
    # (0011 merged the four of wave 2; a branch written later applies before its merge).
    command.upgrade(_alembic_config(connection), "heads")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await conn.run_sync(_upgrade)

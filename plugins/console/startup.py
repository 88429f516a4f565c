"""Starting the console in the running bot, and a sign-in link for an operator.

What the bot's start-up calls (after the Runtime is built), and what
``bot.py console-link qq:10001`` calls; neither imports nonebot, so both can be
tested and used without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy import insert

from plugins.console.app import Console, mount_console
from plugins.console.summary import day_starts
from rules.config import Config, ConfigError, ConsoleSettings, exposure_problem
from rules.core.ports import AuditEntry
from rules.storage.database import Database
from rules.storage.tables import audit_log

if TYPE_CHECKING:
    from rules.runtime import Runtime

log = logging.getLogger(__name__)
PURGE_EVERY = timedelta(hours=1)


def start_console(app: FastAPI, runtime: Runtime, settings: ConsoleSettings) -> Console | None:
    """Mount the console on the bot's web app when ``[console] enabled``; None when off.

    Refuses (ConfigError) to serve it on a non-loopback address without an
    https public URL; the config loader should refuse that first.
    """
    if not settings.enabled:
        return None
    problem = exposure_problem(settings, runtime.config.server.host)
    if problem is not None:
        raise ConfigError("config", [problem])
    console = Console.from_runtime(runtime, settings)
    mount_console(app, console)
    return console


async def purge_expired(console: Console, every: timedelta = PURGE_EVERY) -> None:
    """Delete expired links and sessions now and then (run as a background task)."""
    while True:
        try:
            gone = await console.auth.store.purge(console.clock())
            if gone:
                log.debug("console: %d expired link(s)/session(s) deleted", gone)
        except Exception:  # the database may be away; try again next time
            log.warning("console: purging expired sessions failed", exc_info=True)
        await asyncio.sleep(every.total_seconds())


async def keep_counts(console: Console, every: timedelta = PURGE_EVERY) -> None:
    """Count the overview's finished days ahead of any request, and ask the platforms
    about the known groups (at start, then hourly)."""
    while True:
        try:
            starts = day_starts(console.pages.zone, console.clock())
            counted = await console.overview.prepare(starts)
            if counted:
                log.info("console: %d day(s) of counts kept for the overview", counted)
            # the groups' size and the bot's role, for the overview (which never asks)
            await console.group_infos.many([g.id for g in await console.queries.known_groups()])
        except Exception:  # the database may be away; the overview counts on demand
            log.warning("console: counting the overview's days failed", exc_info=True)
        await asyncio.sleep(every.total_seconds())


class AuditWriter:
    """Audit lines written straight to the database (no journal outside the bot)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self.database.write() as conn:
            await conn.execute(insert(audit_log).values(**dataclasses.asdict(entry)))


@contextlib.asynccontextmanager
async def _standalone(config: Config, settings: ConsoleSettings) -> AsyncIterator[Console]:
    """A console on the configured database, without the bot (for the command line)."""
    from plugins.console.auth import ConsoleAuth
    from rules.commands import CommandRequest
    from rules.core.model import utcnow
    from rules.core.paths import PROJECT_ROOT
    from rules.storage.console_queries import ConsoleQueries, SqlConsoleAuth
    from rules.storage.database import resolve_url

    class NoCommands:
        async def handle(self, request: CommandRequest) -> str | None:
            return None

    database = await Database.open(resolve_url(config.database.url, PROJECT_ROOT))
    try:
        base = settings.base_url(config.server.port)
        yield Console(
            config=config,
            settings=settings,
            queries=ConsoleQueries(database),
            auth=ConsoleAuth(SqlConsoleAuth(database), settings, base, utcnow),
            commands=NoCommands(),
            audit=AuditWriter(database),
        )
    finally:
        await database.close()


async def operator_link(
    config: Config, settings: ConsoleSettings, person_id: str
) -> tuple[str, datetime] | None:
    """``bot.py console-link qq:10001``: a one-time link (None: that person oversees nothing)."""
    async with _standalone(config, settings) as console:
        return await console.issue_link(person_id, "cli")

"""Real PostgreSQL and Redis servers for the tests that need them.

``scripts/test-services.sh start`` runs both on 127.0.0.1 and ``... env``
prints the two variables read here. When a variable is unset the tests that
need that server are skipped, with the reason; under CI
(``GROUPGUARD_REQUIRE_SERVICES=1``, set by ``.ci/run``) they fail instead. A
server that is configured but does not answer always fails.

Every test gets its own PostgreSQL database (created empty, dropped after) and
its own Redis key prefix (deleted after), so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

PG_ENV = "GROUPGUARD_TEST_PG_URL"
REDIS_ENV = "GROUPGUARD_TEST_REDIS_URL"
REQUIRE_ENV = "GROUPGUARD_REQUIRE_SERVICES"
HOW = 'run scripts/test-services.sh start, then eval "$(scripts/test-services.sh env)"'


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def service_url(env: str, what: str) -> str:
    """The server's URL from ``env``; skip (or, under CI, fail) when it is not set."""
    url = os.environ.get(env, "")
    if url:
        return url
    reason = f"{what} not configured: {env} is unset ({HOW})"
    if services_required():
        pytest.fail(f"{reason}; required because {REQUIRE_ENV} is set", pytrace=False)
    pytest.skip(reason)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    async with fresh_pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new, empty database on the test server (dropped on exit); skips/fails without one."""
    base = service_url(PG_ENV, "PostgreSQL")
    name = f"gg_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        await admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_ENV} is configured but unusable: {exc}", pytrace=False)
    try:
        yield with_database(base, name)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'groupguard.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
async def redis_url() -> str:
    """URL of the test Redis server (shared: use ``redis_prefix`` for your keys)."""
    return await checked_redis_url()


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    async with redis_namespace(redis_url) as prefix:
        yield prefix


async def checked_redis_url() -> str:
    url = service_url(REDIS_ENV, "Redis")
    client = Redis.from_url(url)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"Redis at {REDIS_ENV} is configured but unusable: {exc}", pytrace=False)
    finally:
        await client.aclose()
    return url


@contextlib.asynccontextmanager
async def redis_namespace(url: str) -> AsyncIterator[str]:
    """A fresh key prefix; every key under it is deleted on exit."""
    prefix = f"gg-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()

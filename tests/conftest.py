"""Test session set-up: nonebot is initialised once (nonebug autoloads), per PLATFORMS.md.

The in-process bot uses ``tests/data/config.test.toml`` (in-memory SQLite). The
OneBot adapter is registered and every plugin under ``plugins/`` is loaded once
for the session, before nonebug runs the startup hooks.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nonebug import NONEBOT_INIT_KWARGS

# Real PostgreSQL and Redis for the tests that ask for them (skipped when not configured).
from tests.services import db_url, pg_url, redis_prefix, redis_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
TEST_CONFIG = Path(__file__).resolve().parent / "data" / "config.test.toml"

# python-wechaty writes ./.wechaty at import unless CACHE_DIR points elsewhere.
os.environ.setdefault("CACHE_DIR", tempfile.mkdtemp(prefix="groupguard-wechaty-"))
os.environ.setdefault("WECHATY_LOG", "error")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[NONEBOT_INIT_KWARGS] = {
        "driver": "~fastapi+~websockets+~httpx",
        "groupguard_config": str(TEST_CONFIG),
        "log_level": "WARNING",
    }


@pytest.fixture(scope="session", autouse=True)
async def after_nonebot_init(after_nonebot_init: None) -> AsyncIterator[None]:
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter

    nonebot.get_driver().register_adapter(OneBotAdapter)
    nonebot.load_plugins(str(ROOT / "plugins"))
    yield

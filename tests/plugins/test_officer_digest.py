"""The digest plugin: scheduled daily at [digest] time; its job queues once and wakes the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from nonebug import App

from rules.config import parse_config
from rules.core.model import Platform, Role
from rules.core.ports import GroupInfo
from rules.moderation.engine import Engine
from rules.runtime import Runtime
from rules.storage import Storage
from tests.fakes import FakeDirectoryGateway

NOW = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)


async def test_job_runs_daily_at_the_configured_time(app: App) -> None:
    from nonebot_plugin_apscheduler import scheduler

    from plugins.officer_digest import JOB_ID

    job = scheduler.get_job(JOB_ID)
    assert job is not None
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"], fields["day"]) == ("8", "0", "*")
    assert job.trigger.timezone == ZoneInfo("Asia/Shanghai")


async def test_run_digest_queues_once_and_wakes_the_outbox(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plugins.officer_digest as plugin

    config = parse_config({"escalation": {"officers": ["qq:90001"]}})
    storage = await Storage.open("sqlite+aiosqlite://")
    groups = {"qq:1": GroupInfo("qq:1", "办公室工作群", 10, Role.ADMIN)}
    gateways = {Platform.QQ: FakeDirectoryGateway(groups=groups)}
    engine = Engine(config, [], storage.journal)
    runtime = Runtime(config, storage, engine, gateways=gateways)
    woken: list[bool] = []
    monkeypatch.setattr(plugin, "get_runtime", lambda: runtime)
    monkeypatch.setattr(plugin, "request_outbox_flush", lambda: woken.append(True))

    assert await plugin.run_digest(NOW) == 1
    assert await plugin.run_digest(NOW) == 0  # already queued today
    assert woken == [True]
    [digest] = await storage.outbox.due_reports(NOW)
    assert digest.officer_id == "qq:90001" and "未备案的群（1）：办公室工作群" in digest.text
    await storage.close()

"""/export by private message: the officer gets the CSV/XLSX file where the platform can."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from rules.core.model import Finding, Platform
from rules.officers.export import export_for_officer
from rules.storage import Storage
from rules.storage.export import ExportQueries
from tests.fakes import FakeGateway, FakeMediaGateway, message

SINCE = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 11-01 00:00 in Shanghai
NOW = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
OFFICER = "qq:90001"


@pytest.fixture
async def store() -> ExportQueries:
    storage = await Storage.open("sqlite+aiosqlite://")
    insult = Finding("keyword", "insult", "笨蛋", 0, 2)
    for n, group in enumerate(["qq:1", "qq:1", "qq:2"]):
        event = message("笨蛋", group=group, user=f"qq:{700 + n}", at=SINCE + timedelta(days=n + 1))
        await storage.journal.open_case(event, (insult,), 1, event.time)
    old = message("笨蛋", at=SINCE - timedelta(days=3))
    await storage.journal.open_case(old, (insult,), 1, old.time)  # before the export period
    return storage.exports


async def test_officer_receives_the_xlsx_and_a_summary(store: ExportQueries) -> None:
    gateway = FakeMediaGateway()
    result = await export_for_officer(store, gateway, OFFICER, SINCE, group="qq:1", now=NOW)
    assert result.sent and result.cases == 2
    [(officer, name, data)] = gateway.files
    assert officer == OFFICER and name == "groupguard-cases-20261101-20261109-qq_1.xlsx"
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("case", "time", "group") and len(rows) == 3
    assert {row[3] for row in rows[1:]} == {"qq:700", "qq:701"}
    assert gateway.private == [(OFFICER, f"已导出2起案件（2026-11-01起，qq:1），见文件 {name}。")]


async def test_csv_for_every_group(store: ExportQueries) -> None:
    gateway = FakeMediaGateway()
    result = await export_for_officer(store, gateway, OFFICER, SINCE, fmt="csv", now=NOW)
    [(_, name, data)] = gateway.files
    assert name.endswith(".csv") and result.cases == 3
    read = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["group"] for r in read] == ["qq:1", "qq:1", "qq:2"]


async def test_a_text_only_platform_gets_the_server_command(store: ExportQueries) -> None:
    gateway = FakeGateway(platform=Platform.QQ)
    result = await export_for_officer(store, gateway, OFFICER, SINCE, group="qq:2", language="en")
    assert not result.sent and result.error
    [(_, text)] = gateway.private
    assert text.startswith("This platform cannot send files by private message. 1 case(s)")
    assert text.endswith(
        "python bot.py export --since 2026-11-01 --group qq:2 --format xlsx --output cases.xlsx"
    )


async def test_a_refused_file_is_explained(store: ExportQueries) -> None:
    gateway = FakeMediaGateway(media_fails=True)
    result = await export_for_officer(store, gateway, OFFICER, SINCE, now=NOW)
    assert not result.sent and result.error == "file refused"
    [(_, text)] = gateway.private
    assert text.startswith("文件发送失败（file refused）") and "--format xlsx" in text


async def test_nothing_to_export(store: ExportQueries) -> None:
    gateway = FakeMediaGateway()
    result = await export_for_officer(store, gateway, OFFICER, NOW, now=NOW)
    assert result.cases == 0 and gateway.files == []
    assert gateway.private == [(OFFICER, "没有符合条件的案件（2026-11-09起，全部群）。")]

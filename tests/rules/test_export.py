"""Exports for officers: CSV and XLSX that open and hold the expected rows, PII masked."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from rules.config import parse_config
from rules.officers.export import write_rows
from rules.offline.scan import run_scan
from rules.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2026, 11, 2, 1, 0, tzinfo=UTC).timestamp()


async def _seed(tmp_path: Path, url: str) -> str:
    """Scan three messages into a real database: two violations in two groups."""
    words = tmp_path / "insult.txt"
    words.write_text("笨蛋\n", encoding="utf-8")
    events = [
        {"id": "1", "platform": "qq", "group": "1", "user": "7", "card": "李四", "text": "笨蛋"},
        {"id": "2", "platform": "qq", "group": "1", "user": "8", "text": "开会"},
        {"id": "3", "platform": "qq", "group": "2", "user": "9", "text": "你笨蛋", "time": T + 60},
    ]
    source = io.StringIO(
        "".join(json.dumps({"time": T, **e}, ensure_ascii=False) + "\n" for e in events)
    )
    await run_scan(parse_config({"keywords": {"files": [str(words)]}}), source, io.StringIO(), url)
    return url


async def test_csv_and_xlsx_exports_hold_the_cases(tmp_path: Path, db_url: str) -> None:
    storage = await Storage.open(await _seed(tmp_path, db_url))
    rows = await storage.exports.case_rows(datetime(2026, 11, 1, tzinfo=UTC))
    only_g2 = await storage.exports.case_rows(datetime(2026, 11, 1, tzinfo=UTC), group="qq:2")
    none = await storage.exports.case_rows(datetime(2026, 12, 1, tzinfo=UTC))
    await storage.close()
    assert len(only_g2) == 1 and none == []

    out_csv, out_xlsx = tmp_path / "cases.csv", tmp_path / "cases.xlsx"
    write_rows(rows, out_csv, "csv")
    write_rows(rows, out_xlsx, "xlsx")
    with out_csv.open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [(r["group"], r["member"], r["card"], r["evidence"]) for r in read] == [
        ("qq:1", "qq:7", "李四", "笨蛋"),
        ("qq:2", "qq:9", "", "你笨蛋"),
    ]
    assert read[0]["time"] == "2026-11-02T09:00:00+08:00"  # shown in Beijing time
    assert "keyword/insult「笨蛋」" in read[0]["findings"]
    assert "warn:dry_run" in read[0]["actions"]

    sheet = load_workbook(out_xlsx).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["case", "time", "group"]
    assert [v[2] for v in values[1:]] == ["qq:1", "qq:2"]


def test_export_command_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/e.db"\n', "utf-8")
    out = tmp_path / "x.xlsx"
    bot = [sys.executable, str(ROOT / "bot.py"), "export", "--config", str(config)]
    ok = subprocess.run(
        [*bot, "--since", "2026-11-01", "--format", "xlsx", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "exported 0 case(s)" in ok.stdout and out.exists()
    bad = subprocess.run(
        [*bot, "--since", "yesterday", "-o", str(out)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "bad date 'yesterday'" in bad.stderr

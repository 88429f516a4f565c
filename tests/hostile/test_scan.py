"""The offline scan on hostile JSONL: every bad line is an error line, never a crash.

In process (``scan_lines``, one runtime for all examples) for generated lines;
through ``python bot.py scan`` for what only a file can hold (bytes that are
not UTF-8), from a file and from stdin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import parse_config
from rules.offline.scan import scan_lines
from rules.runtime import MEMORY_URL, Runtime
from tests.hostile.strategies import (
    ONE_MB,
    any_char,
    hostile,
    hostile_text,
    json_values,
    nested_json_text,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = parse_config({"nickname": {"enabled": True}})
FIELDS = ["id", "platform", "group", "user", "card", "text", "time", "role"]
good = {
    "id": "1",
    "platform": "qq",
    "group": "100",
    "user": "200",
    "text": "hi",
    "card": "张三+办公室",
}
last = {**good, "id": "last", "text": "最后一条"}

field_values = st.one_of(
    json_values,
    hostile_text(max_pieces=4),
    st.sampled_from(
        [float("inf"), float("nan"), 1e300, -1e300, 10**400, 253402300800, -62135596801, ""]
    ),
)
records = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8).map(
    lambda r: {**good, **r}
)


def _dump(record: dict[str, Any]) -> str:
    # allow_nan: Python's json writes (and reads) Infinity and NaN
    return json.dumps(record, ensure_ascii=False, allow_nan=True)


lines = st.one_of(
    records.map(_dump),
    st.text(any_char, max_size=40),  # garbage, lone surrogates included
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),  # JSON but no object
    st.integers(500, 20_000).map(nested_json_text),  # nested past json.loads' limit
    st.integers(1, 3).map(lambda n: _dump({**good, "text": "赌博 " * (ONE_MB // 3 // n)})),
)


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    runtime = await Runtime.start(CONFIG, MEMORY_URL, dry_run=True)  # as run_scan does
    yield runtime
    await runtime.close()


@hostile(30)
@given(batch=st.lists(lines, min_size=1, max_size=6))
async def test_every_line_gets_one_answer(runtime: Runtime, batch: list[str]) -> None:
    raw = [line.replace("\n", " ") for line in [*batch, _dump(last)]]
    out = await scan_lines(runtime, raw)
    for record in out:  # run_scan writes each record like this, to a UTF-8 file or stdout
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    assert len(out) == len([line for line in raw if line.strip()])
    assert out[-1]["id"] == "last" and "error" not in out[-1]
    for number, record in enumerate(out[:-1]):
        assert set(record) >= {"id", "findings", "actions"}
        if "error" in record:
            assert record["findings"] == [] and isinstance(record["error"], str)
            assert isinstance(record["line"], int) and record["line"] >= number + 1


def test_bot_py_scan_reports_bad_bytes_and_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [
        b'{"id": "bytes", "platform": "qq", "group": "1", "user": "2", "text": "\xff\xfe"}',
        b'{"id": "cut", "platform": "qq", "group": "1", "user": "2", "text": "\xe8\xb5',
        nested_json_text(100_000).encode(),
        b'{"id": "inf", "platform": "qq", "group": "1", "user": "2", "text": "", "time": Infinity}',
        b'{"id": "big", "platform": "qq", "group": "1", "user": "2", "text": "x", "time": 1e300}',
        _dump({**good, "id": "mb", "text": "赌博 " * (ONE_MB // 3)}).encode(),
        json.dumps({**good, "id": "\ud800", "group": "\x00"}).encode(),  # escaped: valid UTF-8
        _dump({**good, "id": "ok"}).encode(),
    ]
    source.write_bytes(b"\n".join(rows) + b"\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", str(source)],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    piped = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan"],
        input=source.read_bytes(),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert piped.stdout == result.stdout  # stdin is read the same way
    out = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(out) == len(rows)
    errors = {r["line"]: r["error"] for r in out if "error" in r}
    assert sorted(errors) == [1, 2, 3, 4, 5, 7], out
    assert "UTF-8" in errors[1] and "UTF-8" in errors[2]
    assert "deep" in errors[3]
    assert out[5]["id"] == "mb" and out[5]["findings"]
    assert out[7] == {"id": "ok", "findings": [], "actions": []}
    assert b"Traceback" not in result.stderr

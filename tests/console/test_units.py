"""Pieces of the console without HTTP: evidence highlighting, charts, settings, limits, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.core.model import Finding, masked_text
from rules.storage.console_queries import Cursor


def pieces(text: str, findings: list[Finding]) -> list[tuple[str, tuple[str, ...]]]:
    from plugins.console.evidence import highlight

    evidence = masked_text(text, findings)
    rows = [
        {"detector": f.detector, "category": f.category, "match": f.match, "start": f.start,
         "end": f.end}
        for f in findings
    ]  # fmt: skip
    return [(p.text, p.labels) for p in highlight(evidence, rows)]


@pytest.mark.parametrize(
    ("text", "findings", "expected"),
    [
        ("没有命中", [], [("没有命中", ())]),
        (
            "来网赌吧",
            [Finding("keyword", "gambling", "网赌", 1, 3)],
            [("来", ()), ("网赌", ("gambling",)), ("吧", ())],
        ),
        (  # overlapping spans: the overlap names both
            "网赌博彩",
            [
                Finding("keyword", "gambling", "网赌博", 0, 3),
                Finding("keyword", "ads", "博彩", 2, 4),
            ],
            [("网赌", ("gambling",)), ("博", ("gambling", "ads")), ("彩", ("ads",))],
        ),
        (  # a masked phone number is shorter than the original: later spans move with it
            "电话13812345678加我网赌",
            [
                Finding("pii", "pii", "138****", 2, 13),
                Finding("keyword", "gambling", "网赌", 15, 17),
            ],
            [("电话", ()), ("138****", ("pii",)), ("加我", ()), ("网赌", ("gambling",))],
        ),
        (  # spans past the end, empty or reversed are ignored
            "短",
            [Finding("x", "a", "", 5, 9), Finding("x", "b", "", 0, 0), Finding("x", "c", "", 1, 0)],
            [("短", ())],
        ),
        (  # a finding without a category is labelled by its detector
            "刷屏",
            [Finding("flood", None, "刷屏", 0, 2)],
            [("刷屏", ("flood",))],
        ),
    ],
)
def test_evidence_spans(
    text: str, findings: list[Finding], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    assert pieces(text, findings) == expected


def test_spans_that_are_not_numbers_are_ignored() -> None:
    from plugins.console.evidence import highlight

    hostile: list[dict[str, Any]] = [
        {"start": "0", "end": 2},
        {"start": True, "end": 2},
        {"start": 0, "end": None},
    ]
    assert [p.labels for p in highlight("abc", hostile)] == [()]


def test_chart_labels_are_escaped() -> None:
    from plugins.console.charts import bar_chart, day_chart

    svg = str(bar_chart([("<script>x</script>", 3), ("群", 1)], 'a"b'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="a&#34;b"' in svg
    assert "style=" not in svg
    days = str(day_chart([0, 2, 5], ["<b>", "2", "3"], "t"))
    assert "<b>" not in days and days.count("<rect") == 3
    assert "暂无数据" in str(bar_chart([], "t"))


def test_settings_bounds_and_exposure() -> None:
    from pydantic import ValidationError

    from rules.config import ConsoleSettings, exposure_problem

    settings = ConsoleSettings(enabled=True)
    assert settings.link_lifetime == timedelta(minutes=5)
    assert settings.base_url(8080) == "http://127.0.0.1:8080"
    assert exposure_problem(settings, "127.0.0.1") is None
    problem = exposure_problem(settings, "0.0.0.0")
    assert problem is not None and problem.startswith("console.public_url:")
    https = ConsoleSettings(enabled=True, public_url="https://guard.example.org/")
    assert https.public_url == "https://guard.example.org" and https.https
    assert exposure_problem(https, "0.0.0.0") is None
    assert exposure_problem(ConsoleSettings(), "0.0.0.0") is None  # not enabled
    for bad in (
        {"public_url": "ftp://x"},
        {"public_url": "https://x/?a=1"},
        {"session_lifetime": "1m"},
        {"link_lifetime": "1h"},
        {"redeem_limit": 0},
    ):
        with pytest.raises(ValidationError):
            ConsoleSettings.model_validate(bad)


def test_the_config_refuses_the_console_off_loopback_without_https() -> None:
    from rules.config import Config, ConfigError, parse_config

    assert Config().console.enabled is False
    assert parse_config({"console": {"enabled": True}}).console.base_url(8080).endswith(":8080")
    with pytest.raises(ConfigError) as refused:
        parse_config(
            {
                "server": {"host": "0.0.0.0"},
                "onebot": {"access_token": "s3cret"},
                "console": {"enabled": True, "public_url": "http://guard.example.org"},
            }
        )
    assert "console.public_url: must be an https:// URL" in str(refused.value)
    exposed = parse_config(
        {
            "server": {"host": "0.0.0.0"},
            "onebot": {"access_token": "s3cret"},
            "console": {"enabled": True, "public_url": "https://guard.example.org"},
        }
    )
    assert exposed.console.https
    with pytest.raises(ConfigError, match="console"):
        parse_config({"groups": {"qq:1": {"console": {"enabled": True}}}})


def test_rate_limiter_slides() -> None:
    from plugins.console.security import RateLimiter

    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    now[0] = 60.0
    assert limiter.allow("a")


def test_tokens_and_csrf() -> None:
    from plugins.console.security import csrf_ok, csrf_token, looks_like_token, new_token

    token = new_token()
    assert looks_like_token(token) and len(token) == 43
    assert new_token() != token
    assert csrf_ok(token, csrf_token(token))
    assert not csrf_ok(token, csrf_token(new_token()))
    assert not csrf_ok(token, "")
    assert not looks_like_token("a" * 19) and not looks_like_token("x" * 30 + "'")


def test_cursors_round_trip_and_refuse_junk() -> None:
    at = datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)
    assert Cursor.decode(Cursor(at, 42).encode()) == Cursor(at, 42)
    for junk in ("", "1", "a.b", "1.-2", "1." + "9" * 30, "9" * 30 + ".1", "1.2.3"):
        assert Cursor.decode(junk) is None, junk


def test_the_package_ships_every_template_and_static_file() -> None:
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["plugins.console"]
    here = root / "plugins" / "console"
    files = [
        p.relative_to(here).as_posix()
        for folder in ("templates", "static")
        for p in (here / folder).rglob("*")
        if p.is_file()
    ]
    assert files
    missed = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missed, f"not in [tool.setuptools.package-data]: {missed}"

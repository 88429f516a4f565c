"""scan: the public JSONL interface over the real engine."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rules.config import parse_config
from rules.offline.scan import run_scan


def lines(*records: object) -> io.StringIO:
    return io.StringIO(
        "".join(
            (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records
        )
    )


def msg(i: int, text: str, **extra: object) -> dict[str, object]:
    return {"id": str(i), "platform": "qq", "group": "100", "user": "200", "text": text, **extra}


async def scan(source: io.StringIO, **config: object) -> list[dict[str, object]]:
    sink = io.StringIO()
    await run_scan(parse_config(config), source, sink, None)
    return [json.loads(line) for line in sink.getvalue().splitlines()]


async def test_one_output_line_per_input_line_with_spans(tmp_path: Path) -> None:
    words = tmp_path / "gambling.txt"
    words.write_text("网赌\n", encoding="utf-8")
    out = await scan(
        lines(msg(1, "来网赌吗"), msg(2, "开会")),
        keywords={"files": [str(words)]},
    )
    assert [o["id"] for o in out] == ["1", "2"]
    [finding] = out[0]["findings"]  # type: ignore[misc]
    assert finding == {
        "detector": "keyword",
        "category": "gambling",
        "match": "网赌",
        "start": 1,
        "end": 3,
        "strength": "strong",
        "how": "direct",
    }
    assert list(finding) == ["detector", "category", "match", "start", "end", "strength", "how"]
    assert out[0]["actions"] == ["delete", "mute", "warn", "escalate"]
    assert out[1] == {"id": "2", "findings": [], "actions": []}


async def test_malformed_lines_are_reported_and_scanning_goes_on() -> None:
    out = await scan(lines("not json", "[1, 2]", {"id": "3", "platform": "irc"}, msg(4, "你好")))
    assert len(out) == 4
    assert out[0]["line"] == 1 and "not valid JSON" in str(out[0]["error"])
    assert out[1]["line"] == 2 and "object" in str(out[1]["error"])
    assert out[2]["id"] == "3" and "platform" in str(out[2]["error"])
    assert out[3] == {"id": "4", "findings": [], "actions": []}


async def test_state_carries_across_lines_flood() -> None:
    out = await scan(lines(msg(1, "在吗"), msg(2, "在吗？"), msg(3, "在 吗!"), msg(4, "好的")))
    assert [bool(o["findings"]) for o in out] == [False, False, True, False]
    assert out[2]["findings"][0]["detector"] == "flood"  # type: ignore[index]


async def test_wechat_shows_fallbacks_and_admins_are_exempt(tmp_path: Path) -> None:
    words = tmp_path / "insult.txt"
    words.write_text("笨蛋\n", encoding="utf-8")
    out = await scan(
        lines(
            {"id": "1", "platform": "wechat", "group": "r", "user": "u", "text": "笨蛋"},
            {"id": "2", "platform": "wechat", "group": "r", "user": "u", "text": "笨蛋!"},
            msg(3, "笨蛋", role="admin"),
        ),
        keywords={"files": [str(words)]},
    )
    assert out[0]["actions"] == ["warn"]  # delete impossible on WeChat, recorded as skipped
    assert out[1]["actions"] == ["warn", "escalate"]  # mute -> warn + escalate
    assert out[2]["findings"] and out[2]["actions"] == []


async def test_weak_evidence_shows_its_strength_and_goes_to_review() -> None:
    out = await scan(
        lines(msg(1, "新到一批大码衣服"), msg(2, "赌chang开业"), msg(3, "禁毒讲座：远离冰毒")),
        review={"delete_weak": True},
    )
    found = [[(f["match"], f["strength"], f["how"]) for f in o["findings"]] for o in out]  # type: ignore[attr-defined]
    assert found == [
        [("大码", "weak", "homophone")],
        [("赌chang", "medium", "mixed")],
        [("冰毒", "weak", "direct")],
    ]
    assert out[0]["actions"] == ["delete", "review"]  # no warn: held for the officers
    assert out[1]["actions"] == ["delete", "mute", "warn", "escalate"]  # medium feeds the ladder
    assert out[2]["actions"] == ["delete", "review"]
    kept = await scan(lines(msg(1, "新到一批大码衣服")))
    assert kept[0]["actions"] == ["review"]  # weak: the message stays up by default

"""``scan`` with pictures: the public ``images`` field in and picture findings out."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rules.config import parse_config
from rules.offline.scan import run_scan
from tests import imagegen


async def _scan(tmp_path: Path, lines: list[dict[str, object]], config: dict) -> list[dict]:
    source = tmp_path / "messages.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = io.StringIO()
    with source.open(encoding="utf-8") as handle:
        await run_scan(parse_config(config), handle, out, db_url=None)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _line(i: int, images: list[str], text: str = "请看图") -> dict[str, object]:
    return {
        "id": str(i),
        "platform": "qq",
        "group": "123",
        "user": f"10{i}",
        "card": "张三+办公室",
        "text": text,
        "time": 1765000000 + i,
        "images": images,
    }


async def test_pictures_in_scan_lines_are_judged(tmp_path: Path) -> None:
    pictures = tmp_path / "pics"
    pictures.mkdir()
    (pictures / "gamble.jpg").write_bytes(imagegen.jpeg(imagegen.text_image(["网络赌博 日赚千元"])))
    poster = imagegen.poster(title="福利", lines=("欢迎",), qr_payload="https://lucky8.vip/x")
    (pictures / "poster.jpg").write_bytes(imagegen.jpeg(poster))
    (pictures / "clean.jpg").write_bytes(imagegen.jpeg(imagegen.photo(seed=3)))
    blocked = imagegen.photo(seed=9)
    blocklist = tmp_path / "blocklist" / "porn"
    blocklist.mkdir(parents=True)
    (blocklist / "known.png").write_bytes(imagegen.png(blocked))
    copy = imagegen.recompressed(imagegen.resized(blocked, 0.7), 55)
    (pictures / "copy.jpg").write_bytes(imagegen.jpeg(copy))
    config = {"images": {"blocklist": [str(blocklist / "*.png")]}}

    records = await _scan(
        tmp_path,
        [
            _line(1, ["pics/clean.jpg", "pics/gamble.jpg"]),
            _line(2, ["pics/poster.jpg"]),
            _line(3, ["pics/copy.jpg"]),
            _line(4, ["pics/clean.jpg"]),
            _line(5, ["pics/missing.jpg"]),
        ],
        config,
    )
    first, second, third, fourth, fifth = records
    found = [(f["detector"], f["category"], f["image"]) for f in first["findings"]]
    assert ("image_text", "gambling", 1) in found
    hit = next(f for f in first["findings"] if f["detector"] == "image_text")
    assert isinstance(hit["start"], int) and hit["end"] > hit["start"]
    assert "delete" in first["actions"]
    assert [(f["detector"], f["category"], f["image"]) for f in second["findings"]] == [
        ("qrcode", "link", 0)
    ]
    assert [(f["detector"], f["category"], f["match"]) for f in third["findings"]] == [
        ("image_hash", "porn", "known.png")
    ]
    assert third["findings"][0]["start"] is None
    assert "delete" in third["actions"]
    assert fourth["findings"] == [] and fourth["actions"] == []
    assert fifth["findings"] == [] and "error" not in fifth  # a missing picture is skipped


async def test_a_line_with_too_many_pictures_is_an_error(tmp_path: Path) -> None:
    (record,) = await _scan(tmp_path, [_line(1, ["x.jpg"] * 21)], {})
    assert "images" in record["error"]

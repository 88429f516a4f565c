"""The QQ desktop text export parser, on a realistic sample."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from rules.config import parse_config
from rules.offline.qq_export import parse_qq_export
from rules.offline.scan import run_scan

SAMPLE = """\ufeff消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:我的群聊
================================================================
消息对象:宣传统战部工作群
================================================================

2024-03-05 9:02:11 张三+宣传统战部(10001)
各位早上好，今天下午三点开会。

2024-03-05 9:05:40 李四(10002)
收到
第二行：地点在302会议室

2024-03-05 10:15:03 王五<wangwu@example.com>
[图片]

2024-03-05 10:16:00 赵六(10004)
在吗
2024-03-05 10:16:01 赵六(10004)
在吗？
2024-03-05 10:16:02 赵六(10004)
在吗!

"""


def test_parses_every_message_with_sender_time_and_multiline_text() -> None:
    records = list(parse_qq_export(io.StringIO(SAMPLE)))
    assert len(records) == 6
    first = records[0]
    assert first["group"] == "宣传统战部工作群"
    assert (first["user"], first["card"]) == ("10001", "张三+宣传统战部")
    assert first["text"] == "各位早上好，今天下午三点开会。"
    assert datetime.fromtimestamp(first["time"], UTC) == datetime(2024, 3, 5, 1, 2, 11, tzinfo=UTC)
    assert records[1]["text"] == "收到\n第二行：地点在302会议室"
    assert records[2]["user"] == "wangwu@example.com"


async def test_scan_of_an_export_finds_the_flood_and_summarises() -> None:
    sink, summary = io.StringIO(), io.StringIO()
    await run_scan(parse_config({}), io.StringIO(SAMPLE), sink, None, "qq-export", summary)
    out = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert len(out) == 6
    assert [o["id"] for o in out if o["findings"]] == ["6"]
    table = summary.getvalue()
    counts = {k.strip(): int(v) for k, v in (ln.rsplit(maxsplit=1) for ln in table.splitlines())}
    assert counts["messages"] == 6 and counts["flagged"] == 1 and counts["flood/flood"] == 1

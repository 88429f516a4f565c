"""Read a chat history exported by the QQ desktop client (its text format).

The export has a header (消息记录, 消息分组, 消息对象 = the group's name, rule
lines), then one block per message: a line ``YYYY-MM-DD H:MM:SS NAME(QQ)``
(or ``NAME<email>`` for accounts shown by e-mail) followed by the message's
lines. Times are local (Beijing time unless told otherwise). Each message
becomes a ``scan`` input record, so the offline audit runs the same engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

_HEADER = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2}) (?P<time>\d{1,2}:\d{2}:\d{2}) (?P<name>.*?)"
    r"(?:\((?P<qq>\d{5,12})\)|<(?P<email>[^<>\s]+)>)\s*$"
)
_GROUP = re.compile(r"^消息对象[:：]\s*(?P<group>.+?)\s*$")


def parse_qq_export(lines: Iterable[str], tz: str = "Asia/Shanghai") -> Iterator[dict[str, Any]]:
    """Yield scan records ``{"id", "platform", "group", "user", "card", "text", "time"}``."""
    zone = ZoneInfo(tz)
    group = "qq-export"
    current: dict[str, Any] | None = None
    body: list[str] = []
    count = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        named = _GROUP.match(line)
        if named and current is None:
            group = named["group"]
            continue
        header = _HEADER.match(line)
        if header:
            if current is not None:
                yield _finish(current, body)
            count += 1
            stamp = f"{header['date']} {header['time']}"
            when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
            current = {
                "id": str(count),
                "platform": "qq",
                "group": group,
                "user": header["qq"] or header["email"],
                "card": header["name"].strip(),
                "time": when.timestamp(),
            }
            body = []
        elif current is not None:
            body.append(line)
    if current is not None:
        yield _finish(current, body)


def _finish(record: dict[str, Any], body: list[str]) -> dict[str, Any]:
    while body and not body[-1].strip():
        body.pop()
    return {**record, "text": "\n".join(body)}

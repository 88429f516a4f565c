"""Link detector: schemes, bare domains, IPs, allowed domains, share cards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.config import LinkSettings
from rules.core.model import ChatEvent, EventKind, Member, Platform, SharedCard
from rules.detectors.link import LinkDetector


def event(text: str, cards: tuple[SharedCard, ...] = ()) -> ChatEvent:
    return ChatEvent(
        EventKind.MESSAGE,
        Platform.QQ,
        "qq:1",
        Member("qq:2"),
        datetime.now(UTC),
        text=text,
        cards=cards,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("点击 https://www.baidu.com 查看", ["https://www.baidu.com"]),
        ("看 www.example.com 吧", ["www.example.com"]),
        ("x.cn/abc 有惊喜", ["x.cn/abc"]),
        ("访问 127.0.0.1:8080。", ["127.0.0.1:8080"]),
        ("ｗｗｗ．ｘｘ．ｃｏｍ", ["ｗｗｗ．ｘｘ．ｃｏｍ"]),
        ("ｈｔｔｐｓ：／／ｘ．ｃｏｍ／ａ 看", ["ｈｔｔｐｓ：／／ｘ．ｃｏｍ／ａ"]),
        ("http：//x.cn", ["http：//x.cn"]),
        ("今天开会，请准时参加！", []),
        ("报告.docx 第3.5版", []),
        ("版本 1.2.3.999", []),
        ("邮箱 a@qq.com", []),
        ("学校官网 www.pku.edu.cn", []),
    ],
)
def test_links_in_text(text: str, expected: list[str]) -> None:
    found = LinkDetector().check(event(text), LinkSettings(allow_domains=["edu.cn"]))
    assert [f.match for f in found] == expected
    assert all(text[f.start : f.end] == f.match for f in found)


def test_share_cards_and_solicit() -> None:
    cards = (
        SharedCard("https://mp.weixin.qq.com/s/x", "帮我砍一刀"),
        SharedCard("https://news.pku.edu.cn/a", "校园新闻"),
        SharedCard("https://example.com/a", "好文章"),
    )
    found = LinkDetector().check(event("", cards), LinkSettings(allow_domains=["edu.cn"]))
    assert [(f.category, f.match) for f in found] == [
        ("solicit", "https://mp.weixin.qq.com/s/x"),
        ("link", "https://example.com/a"),
    ]


def test_switches() -> None:
    settings = LinkSettings(bare_domains=False, ips=False, cards=False)
    found = LinkDetector().check(
        event("www.x.com 1.2.3.4", (SharedCard("https://x.com"),)), settings
    )
    assert found == []

"""Link detector: schemes, bare domains, IPs, allowed domains, share cards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.config import LinkSettings
from rules.core.model import ChatEvent, EventKind, MatchKind, Member, Platform, SharedCard, Strength
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


@pytest.mark.parametrize(
    ("text", "span", "category", "how", "note"),
    [
        ("lucky8。vip 送彩金", "lucky8。vip", "link", MatchKind.FOLDED, "hidden link: lucky8.vip"),
        ("访问 abc . com 领取", "abc . com", "link", MatchKind.FOLDED, "hidden link: abc.com"),
        ("abc[.]com", "abc[.]com", "link", MatchKind.FOLDED, "hidden link: abc.com"),
        ("去abc点cn看看", "abc点cn", "link", MatchKind.FOLDED, "hidden link: abc.cn"),
        ("abc dot com", "abc dot com", "link", MatchKind.FOLDED, "hidden link: abc.com"),
        ("h t t p s://x.cn/a", "h t t p s://x.cn/a", "link", MatchKind.FOLDED, "hidden link"),
        ("ｌｕｃｋｙ８。ｖｉｐ", "ｌｕｃｋｙ８。ｖｉｐ", "link", MatchKind.FOLDED, "hidden link"),
        ("t.cn/A6xY 看", "t.cn/A6xY", "link", MatchKind.DIRECT, "short link"),
        (
            "进群 https://weixin.qq.com/g/AbC123 ",
            "https://weixin.qq.com/g/AbC123",
            "solicit",
            MatchKind.DIRECT,
            "invitation (wechat_group)",
        ),
        ("qm.qq.com/q/xyz 加我", "qm.qq.com/q/xyz", "solicit", MatchKind.DIRECT, "invitation"),
    ],
)
def test_hidden_short_and_invitation_links(
    text: str, span: str, category: str, how: MatchKind, note: str
) -> None:
    (found,) = LinkDetector().check(event(text), LinkSettings())
    assert (text[found.start : found.end], found.match, found.category) == (span, span, category)
    assert found.how == how and note in found.detail
    assert found.strength == (Strength.MEDIUM if how == MatchKind.FOLDED else Strength.STRONG)


@pytest.mark.parametrize(
    "text",
    [
        "今天3点开会。",
        "ok。so good",
        "thank you。love",
        "版本3.5点几",
        "学校官网 www.pku。edu。cn",  # allowed however it is written
        "pku点edu点cn",
    ],
)
def test_no_hidden_link_in_ordinary_text(text: str) -> None:
    assert LinkDetector().check(event(text), LinkSettings(allow_domains=["edu.cn"])) == []


def test_hidden_links_can_be_switched_off() -> None:
    assert LinkDetector().check(event("lucky8。vip"), LinkSettings(hidden=False)) == []

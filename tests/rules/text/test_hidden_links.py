"""Hidden links: disguised dots and schemes, short links, invitations; ordinary text passes."""

from __future__ import annotations

import re

import pytest

from rules.text import hidden_links
from rules.text.hidden_links import (
    QQ,
    QQ_CONTACT,
    QQ_GROUP,
    WECHAT_CONTACT,
    WECHAT_GROUP,
    WECOM,
    find_links,
    invite_kind,
    is_short_host,
)


@pytest.mark.parametrize(
    ("text", "canonical", "span"),
    [
        ("lucky8。vip", "lucky8.vip", (0, 10)),
        ("加我 lucky8｡vip 领奖", "lucky8.vip", (3, 13)),
        ("abc . com", "abc.com", (0, 9)),
        ("看 abc .com 吧", "abc.com", (2, 10)),
        ("abc. com", "abc.com", (0, 8)),
        ("abc[.]com", "abc.com", (0, 9)),
        ("abc(.)com", "abc.com", (0, 9)),
        ("abc【.】com", "abc.com", (0, 9)),
        ("abc（.）com", "abc.com", (0, 9)),
        ("abc[点]com", "abc.com", (0, 9)),
        ("abc点cn", "abc.cn", (0, 6)),
        ("快上abc点cn注册", "abc.cn", (2, 8)),
        ("abc dot com", "abc.com", (0, 11)),
        ("ABC DOT COM", "abc.com", (0, 11)),
        ("abc [dot] com", "abc.com", (0, 13)),
        ("www。lucky。top", "www.lucky.top", (0, 13)),
        ("h t t p s://x.cn", "x.cn", (0, 16)),
        ("h t t p : / / lucky8。vip/reg", "lucky8.vip/reg", (0, 28)),
        ("hxxps://evil.top", "evil.top", (0, 16)),
        ("ｌｕｃｋｙ８．ｖｉｐ", "lucky8.vip", (0, 10)),
        ("ｈｔｔｐｓ：／／ｘ．ｃｏｍ／Ａ", "x.com/A", (0, 15)),
        ("рornhub。com", "pornhub.com", (0, 11)),  # Cyrillic р
        ("163。com", "163.com", (0, 7)),  # digit labels: three digits are enough
        ("lu\u200bcky8。vip", "lucky8.vip", (0, 11)),  # an invisible character inside
        ("abc。com。你好", "abc.com", (0, 7)),
        ("abc.com.hello", "abc.com", (0, 7)),  # a trailing label that is no TLD is dropped
        ("www.pku.edu.cn", "www.pku.edu.cn", (0, 14)),
        ("看 x.cn:8080/a?b=1 吧", "x.cn:8080/a?b=1", (2, 17)),
        ("t。cn/A6xYz 点开", "t.cn/A6xYz", (0, 10)),
        ("suo。im/abc", "suo.im/abc", (0, 10)),
        ("看 x.cn/abc. 好", "x.cn/abc", (2, 10)),  # the sentence's full stop is not the path's
        ("看 x.cn/a/b?c=1, 好", "x.cn/a/b?c=1", (2, 14)),  # im is a TLD only for known hosts here
    ],
)
def test_hidden_and_plain_links(text: str, canonical: str, span: tuple[int, int]) -> None:
    links = find_links(text)
    assert [(link.canonical, (link.start, link.end)) for link in links] == [(canonical, span)]


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("看 www.example.com 吧", False),
        ("https://x.cn/a", False),
        ("lucky8。vip", True),
        ("abc . com", True),
        ("h t t p s://x.cn", True),
        ("ｘ.ｃｎ", True),
        ("рorn.com", True),
    ],
)
def test_hidden_flag(text: str, hidden: bool) -> None:
    (link,) = find_links(text)
    assert link.hidden is hidden


@pytest.mark.parametrize(
    ("text", "invite"),
    [
        ("加群 weixin.qq.com/g/AbCd123 速来", WECHAT_GROUP),
        ("u.wechat.com/EAbc123", WECHAT_CONTACT),
        ("https://work.weixin.qq.com/gm/abc", WECOM),
        ("qm.qq.com/cgi-bin/qm/qr?k=abc", QQ),
        ("https://qm.qq.com/q/AbC", QQ),
        ("jq.qq.com/?_wv=1027&k=abc", QQ_GROUP),
        ("wpa。qq。com/msgrd?v=3&uin=123", QQ_CONTACT),
        ("weixin.qq.com", ""),
        ("mp.weixin.qq.com/s/abc", ""),
    ],
)
def test_invitations(text: str, invite: str) -> None:
    (link,) = find_links(text)
    assert link.invite == invite
    assert invite_kind(link.host, link.canonical[len(link.host) :]) == invite


@pytest.mark.parametrize(
    ("host", "short"),
    [
        ("t.cn", True),
        ("bit.ly", True),
        ("w.url.cn", True),
        ("tinyurl.com", True),
        ("example.com", False),
        ("cn", False),
        ("xt.cn", False),
    ],
)
def test_short_hosts(host: str, short: bool) -> None:
    assert is_short_host(host) is short


def test_short_link_in_text() -> None:
    (link,) = find_links("戳 t.cn/A6xYz 领红包")
    assert link.short and link.canonical == "t.cn/A6xYz"


@pytest.mark.parametrize(
    "text",
    [
        "今天下午三点开会，请准时参加。",
        "我还差一点就到了",
        "点击下面的按钮查看详情",
        "这个方案的评分是3.5分",
        "会议改到12:30开始",
        "第2.1节和第3.2节需要修改",
        "价格是12.50元，明天9.30到",
        "请在5点前提交报告.docx",
        "版本号v2.3.1已发布",
        "好的。OK。收到",
        "我用的是iPhone。明天见",
        "明天见。Bye",
        "他说ok。so我们就走了",
        "thank you。love you",
        "晚上8点vip专场开始",
        "下午3点cc我一下",
        "一点点小意思",
        "张三·李四来了",
        "请联系王老师，邮箱 wang@pku.edu.cn",
        "邮箱 abc@qq。com",
        "比分是3:2，我们赢了",
        "气温零下2.5度，体温36.5℃正常",
        "这个点子不错，你几点到？我9点到",
        "他的成绩是98.5分，排名第1",
        "A.B.C三个方案都可以",
        "请看附件 data.xlsx 和 报告.pdf",
        "e.g. 例如这样",
        "明天 a.m. 9 点开会",
        "第一点：安全；第二点：效率",
        "APP点开就闪退",
        "ok点了吗",
        "Good night。Sweet dreams",
        "",
    ],
)
def test_ordinary_text_has_no_links(text: str) -> None:
    assert find_links(text) == []


# The cheap first test, as one forward regular expression (what it must agree with).
_MAY_LINK_PLAIN = re.compile(
    f"[^\u3000-\u9fff{hidden_links._GAP}][{hidden_links._GAP}]*[.。｡．﹒·・‧∙点\\[(【（〔]|dot|DOT|Dot"
)


@pytest.mark.parametrize(
    "text",
    [
        "谢谢。", "好的。。", "abc。vip", "abc 。vip", "a\u200b . x", "点a", "x点", "3点开会",
        "Dot", "dOt", "the DOT", "．．", "中 。", "a(", "（", "a（", "，。", "\t.", " .", "",
        "a", "。a",
    ],
)  # fmt: skip
def test_may_link_agrees_with_its_plain_pattern(text: str) -> None:
    assert hidden_links._may_link(text) == (_MAY_LINK_PLAIN.search(text) is not None)

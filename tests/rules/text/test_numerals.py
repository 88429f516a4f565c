"""Number forms: phones in Chinese numerals, grouped bank cards; ordinary numbers pass."""

from __future__ import annotations

import pytest

from rules.text.numerals import CARD, MOBILE, find_numbers, is_card_like, is_mobile


@pytest.mark.parametrize(
    ("text", "digits", "kind", "span", "spelled"),
    [
        ("一三八一二三四五六七八", "13812345678", MOBILE, (0, 11), True),
        ("壹叁捌壹贰叁肆伍陆柒捌", "13812345678", MOBILE, (0, 11), True),
        ("壹參捌壹貳參肆伍陸柒捌", "13812345678", MOBILE, (0, 11), True),  # traditional
        ("加我幺三八 一二三四 五六七八", "13812345678", MOBILE, (2, 15), True),
        ("电话1三8一二3四五6七8哦", "13812345678", MOBILE, (2, 13), True),  # mixed
        ("①③⑧①②③④⑤⑥⑦⑧", "13812345678", MOBILE, (0, 11), True),
        ("１３８１２３４５６７８", "13812345678", MOBILE, (0, 11), True),  # full width
        ("一三八〇〇一三八〇〇〇", "13800138000", MOBILE, (0, 11), True),
        ("138 1234 5678", "13812345678", MOBILE, (0, 13), False),
        ("138 - 1234 - 5678", "13812345678", MOBILE, (0, 17), False),
        ("138—1234—5678", "13812345678", MOBILE, (0, 13), False),
        ("1 3 8 1 2 3 4 5 6 7 8", "13812345678", MOBILE, (0, 21), False),
        ("13８.1２3４.5６7８", "13812345678", MOBILE, (0, 13), True),
        ("138\u200b1234\u200b5678", "13812345678", MOBILE, (0, 13), False),
        ("138 1234 5678 2024年见", "13812345678", MOBILE, (0, 13), False),
        ("+86 138 1234 5678", "13812345678", MOBILE, (1, 17), False),
        ("8613812345678", "13812345678", MOBILE, (0, 13), False),
        ("卡号 6222 0212 3456 7890 123", "6222021234567890123", CARD, (3, 26), False),
        ("6222-0212-3456-7890-128", "6222021234567890128", CARD, (0, 23), False),
        ("4111 1111 1111 1111", "4111111111111111", CARD, (0, 19), False),
        ("陆贰贰贰 零贰壹贰 叁肆伍陆 柒捌玖零 壹贰叁", "6222021234567890123", CARD, (0, 23), True),
    ],
)
def test_numbers_found(
    text: str, digits: str, kind: str, span: tuple[int, int], spelled: bool
) -> None:
    (found,) = find_numbers(text)
    assert (found.digits, found.kind, (found.start, found.end), found.spelled) == (
        digits,
        kind,
        span,
        spelled,
    )


def test_two_numbers_in_one_message() -> None:
    found = find_numbers("张 138 1234 5678，李 一三九一二三四五六七八")
    assert [(n.digits, n.start, n.end) for n in found] == [
        ("13812345678", 2, 15),
        ("13912345678", 18, 29),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "三月一日开会",
        "一二三四五，上山打老虎",
        "二〇二四年十一月十七日",
        "他一五一十地说了，三三两两地走了，一一对应",
        "第一二三四五六七八九十名",
        "订单号 2024111712345678901",  # 19 digits, but no card starts with 2
        "价格 1,380,000 元，共 12,345,678 件",
        "时间 2024-11-17 12:30:45",
        "房间 1301、1302、1303、1304",
        "区号 010-12345678",  # a landline
        "QQ 123456789",
        "138123456789",  # twelve digits in a row
        "1 3 5 7 9 11 13 15 17",  # a list
        "一三八一二三四五六七八九",  # twelve Chinese digits
        "比分 3:2，3 比 1",
        "今天一点二十开会，一共十三个人，八点半结束",
        "",
    ],
)
def test_ordinary_numbers_are_not_phones_or_cards(text: str) -> None:
    assert find_numbers(text) == []


def test_predicates() -> None:
    assert is_mobile("13812345678")
    assert not is_mobile("12812345678")
    assert not is_mobile("1381234567")
    assert is_card_like("6222021234567890123")
    assert not is_card_like("2024111712345678901")
    assert not is_card_like("62220212345678")

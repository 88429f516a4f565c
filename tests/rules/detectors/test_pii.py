"""Personal-data detector: numbers validated, spans original, matches masked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.config import PiiSettings
from rules.core.model import ChatEvent, EventKind, Member, Platform, masked_text
from rules.detectors.pii import PiiDetector, id_card_valid, luhn_valid


def event(text: str) -> ChatEvent:
    return ChatEvent(
        EventKind.MESSAGE, Platform.QQ, "qq:1", Member("qq:2"), datetime.now(UTC), text=text
    )


@pytest.mark.parametrize(
    ("text", "raw", "masked", "kind"),
    [
        ("我电话13800138000", "13800138000", "138****8000", "mobile"),
        ("159 9569 3815 找我", "159 9569 3815", "159****3815", "mobile"),
        ("①③⑧0013 8000", "①③⑧0013 8000", "138****8000", "mobile"),
        ("幺三八零零幺三八零零零", "幺三八零零幺三八零零零", "138****8000", "mobile"),
        ("电话１３８ ００１３ ８０００", "１３８ ００１３ ８０００", "138****8000", "mobile"),
        ("身份证11010519491231002X", "11010519491231002X", "110***********002X", "ID card"),
        ("卡号6222021234567890128", "6222021234567890128", "6222***********0128", "bank card"),
        ("邮箱 sensitiveword@xx.com", "sensitiveword@xx.com", "se***@xx.com", "e-mail"),
    ],
)
def test_personal_data_is_found_and_masked(text: str, raw: str, masked: str, kind: str) -> None:
    (finding,) = PiiDetector().check(event(text), PiiSettings())
    assert text[finding.start : finding.end] == raw
    assert (finding.match, finding.detail) == (masked, kind)
    stored = masked_text(text, [finding])
    assert raw not in stored and masked in stored


@pytest.mark.parametrize(
    "text",
    [
        "订单号 20240101123456789",
        "身份证 110105194912310021",  # bad checksum
        "会议室 12345678",
        "1234567890123456",  # fails Luhn
        "我们一起去三楼开会，十二点半见",  # numerals, but no eleven digits
    ],
)
def test_other_numbers_are_not_personal_data(text: str) -> None:
    assert PiiDetector().check(event(text), PiiSettings()) == []


def test_checksums() -> None:
    assert id_card_valid("11010519491231002X")
    assert not id_card_valid("110105194912310021")
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "raw", "masked", "kind", "how"),
    [
        (
            "电话一三八 一二三四 五六七八",
            "一三八 一二三四 五六七八",
            "138****5678",
            "mobile",
            "folded",
        ),
        ("壹叁捌-壹贰叁肆-伍陆柒捌", "壹叁捌-壹贰叁肆-伍陆柒捌", "138****5678", "mobile", "folded"),
        (
            "貳參 幺三八零零幺三八零零零",
            "幺三八零零幺三八零零零",
            "138****8000",
            "mobile",
            "folded",
        ),
        ("打 138 - 1234 - 5678 找我", "138 - 1234 - 5678", "138****5678", "mobile", "direct"),
        (
            "卡号 6222 0212 3456 7890 128 转账",
            "6222 0212 3456 7890 128",
            "6222***********0128",
            "bank card",
            "direct",
        ),
        (
            "卡号6222-0212-3456-7890-128",
            "6222-0212-3456-7890-128",
            "6222***********0128",
            "bank card",
            "direct",
        ),
    ],
)
def test_numbers_written_to_hide(text: str, raw: str, masked: str, kind: str, how: str) -> None:
    (finding,) = PiiDetector().check(event(text), PiiSettings())
    assert text[finding.start : finding.end] == raw
    assert (finding.match, finding.detail, finding.how.value) == (masked, kind, how)


@pytest.mark.parametrize(
    "text",
    [
        "6222 0212 3456 7890 123",  # grouped, fails Luhn
        "一二三四五六七八九十",
        "1 3 5 7 9 11 13 15 17 19",  # a list, not a number
        "二〇二四年十二月三十一日",
    ],
)
def test_grouped_or_spelled_numbers_that_are_not_personal_data(text: str) -> None:
    assert PiiDetector().check(event(text), PiiSettings()) == []

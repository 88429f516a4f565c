"""Card history (changes seen from notices, messages, joins and audits) and impersonation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.core.protection_records import CardChange, CardSource
from rules.detectors.nickname.roster import Roster
from rules.protection.cards import CardBook, Impersonation, impersonation
from tests.fakes import T0

CARD, TRAD = "张三+办公室", "張三+办公室"  # the same card, simplified and traditional
ROSTER = Roster.from_csv("name,qq\n王老师,5001\n赵六,\n")


@pytest.mark.parametrize(
    ("known", "card", "source", "old", "expected"),
    [
        (None, "张三", "message", None, None),  # first sight: nothing to compare
        (None, "张三", "join", None, ("", "张三")),  # a join starts the history
        (None, "张三", "notice", "张3", ("张3", "张三")),  # the notice says what it was
        ("张三", "张三", "message", None, None),  # unchanged
        ("张三", "王老师", "message", None, ("张三", "王老师")),
        ("张三", "王老师", "audit", None, ("张三", "王老师")),
        ("张三", "王老师", "notice", "ignored", ("张三", "王老师")),  # what we saw wins
    ],
)
def test_card_changes(
    known: str | None, card: str, source: CardSource, old: str | None,
    expected: tuple[str, str] | None,
) -> None:  # fmt: skip
    book = CardBook()
    if known is not None:
        book.seen("qq:1", "qq:9", known, T0, "message")
    change = book.seen("qq:1", "qq:9", card, T0 + timedelta(1), source, old=old)
    if expected is None:
        assert change is None
    else:
        assert change == CardChange("qq:1", "qq:9", *expected, T0 + timedelta(1), source)
    assert book.card("qq:1", "qq:9") == card


def test_card_book_is_bounded_and_loads_recorded_cards() -> None:
    book = CardBook(capacity=100)
    for i in range(500):
        book.seen("qq:1", f"qq:{i}", "x", T0, "message")
    assert len(book) == 100 and book.card("qq:1", "qq:0") is None
    book.load("qq:2", {"qq:5": "李四"})
    assert book.card("qq:2", "qq:5") == "李四"
    assert len(book) == 100


@pytest.mark.parametrize(
    ("member", "card", "cards", "expected"),
    [
        ("qq:9", "张三+办公室", {"qq:1": "张三+办公室"}, Impersonation("member", CARD, "qq:1")),
        ("qq:9", "張三+办公室", {"qq:1": "张三+办公室"}, Impersonation("member", TRAD, "qq:1")),
        ("qq:9", "张三+办公室", {"qq:9": "张三+办公室"}, None),  # their own card
        ("qq:9", "王老师", {}, Impersonation("roster", "王老师", "王老师")),  # someone else's name
        ("qq:5001", "王老师", {}, None),  # it is theirs
        ("qq:9", "赵六", {}, None),  # the roster lists no QQ account for 赵六: cannot tell
        ("qq:9", "", {"qq:1": ""}, None),
        ("qq:9", "李四", {"qq:1": "张三"}, None),
    ],
)
def test_impersonation(
    member: str, card: str, cards: dict[str, str], expected: Impersonation | None
) -> None:
    assert impersonation(member, card, cards, ROSTER) == expected


def test_impersonation_by_the_name_the_card_states() -> None:
    def names(card: str) -> list[str]:
        return [card.split("+")[0]]

    found = impersonation("qq:9", "王老师+教务处", {}, ROSTER, names)
    assert found == Impersonation("roster", "王老师+教务处", "王老师")
    assert impersonation("qq:9", "王老师+教务处", {}, ROSTER) is None

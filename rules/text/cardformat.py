"""The group-card format syntax (``[nickname] format``): parsing and matching.

A format is a string of placeholders and literals:

- ``{name}`` a person's name, ``{dept}`` a department (or centre / unit),
  ``{subject}`` a school subject, ``{child}`` a child's name, ``{relation}``
  the relation to the child (爸爸, 妈妈, ...);
- a literal ``+`` stands for any one of the configured separators (a run of
  them is accepted, so ``张三 + 办公室`` passes ``{name}+{dept}``);
- placeholders written next to each other have no separator between them
  (``{dept}{name}`` matches 行政中心何锐);
- any other character must appear as it is.

Matching is pure and vocabulary-free: :func:`splits` lists every way a card can
be cut into the format's fields. Judging the fields (is this a department, a
plausible name?) is :mod:`rules.detectors.nickname.cards`' job. The search is bounded by a
:class:`Budget` of steps: adjacent placeholders make the number of cuts grow
with a power of the card's length, and a card is text anyone can type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

FIELDS = ("name", "dept", "subject", "child", "relation")
NAME_FIELDS = frozenset({"name", "child"})

TokenKind = Literal["field", "sep", "text"]
MAX_STEPS = 2_000  # search steps for judging one card (real cards take under 50)


class Budget:
    """Steps a search may still take; share one between the searches of one judgement."""

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.steps = steps

    def spend(self) -> bool:
        """Take one step; False once the budget is used up."""
        self.steps -= 1
        return self.steps >= 0


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class CardFormat:
    """One parsed format: its source text and tokens."""

    source: str
    tokens: tuple[Token, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.tokens if t.kind == "field")

    def without_separators(self) -> CardFormat:
        """The same format with its separators removed (to diagnose a missing '+')."""
        return CardFormat(self.source, tuple(t for t in self.tokens if t.kind != "sep"))

    def without_field(self, index: int) -> CardFormat:
        """The format with its ``index``-th field (and one adjacent separator) removed."""
        positions = [i for i, t in enumerate(self.tokens) if t.kind == "field"]
        at = positions[index]
        drop = {at}
        if at + 1 < len(self.tokens) and self.tokens[at + 1].kind == "sep":
            drop.add(at + 1)
        elif at > 0 and self.tokens[at - 1].kind == "sep":
            drop.add(at - 1)
        return CardFormat(self.source, tuple(t for i, t in enumerate(self.tokens) if i not in drop))

    def with_fields(self, order: tuple[str, ...]) -> CardFormat:
        """The format with its fields replaced, in order, by ``order`` (same structure)."""
        names = iter(order)
        tokens = tuple(Token("field", next(names)) if t.kind == "field" else t for t in self.tokens)
        return CardFormat(self.source, tokens)


def parse_format(source: str) -> CardFormat:
    """Parse a format string; ValueError names what is wrong with it."""
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "{":
            end = source.find("}", i)
            if end < 0:
                raise ValueError(f"format {source!r}: '{{' without a closing '}}'")
            name = source[i + 1 : end].strip()
            if name not in FIELDS:
                known = ", ".join("{" + f + "}" for f in FIELDS)
                raise ValueError(f"format {source!r}: unknown placeholder {{{name}}} (use {known})")
            if name in (t.value for t in tokens if t.kind == "field"):
                raise ValueError(f"format {source!r}: {{{name}}} appears twice")
            tokens.append(Token("field", name))
            i = end + 1
        elif char == "}":
            raise ValueError(f"format {source!r}: '}}' without an opening '{{'")
        elif char == "+":
            if tokens and tokens[-1].kind == "sep":
                raise ValueError(f"format {source!r}: two '+' in a row")
            tokens.append(Token("sep"))
            i += 1
        else:
            if tokens and tokens[-1].kind == "text":
                tokens[-1] = Token("text", tokens[-1].value + char)
            else:
                tokens.append(Token("text", char))
            i += 1
    if not any(t.kind == "field" for t in tokens):
        raise ValueError(f"format {source!r}: needs at least one placeholder, e.g. {{name}}")
    if tokens[0].kind == "sep" or tokens[-1].kind == "sep":
        raise ValueError(f"format {source!r}: cannot start or end with '+'")
    return CardFormat(source, tuple(tokens))


def splits(
    card: str, fmt: CardFormat, separators: str, budget: Budget | None = None
) -> Iterator[dict[str, str]]:
    """Every way to cut ``card`` into ``fmt``'s fields (field values hold no separator).

    Stops early, silently, when ``budget`` (default: a fresh one) runs out.
    """
    yield from _walk(card, 0, fmt.tokens, 0, separators, {}, budget or Budget())


def _walk(
    card: str,
    pos: int,
    tokens: tuple[Token, ...],
    index: int,
    seps: str,
    got: dict[str, str],
    budget: Budget,
) -> Iterator[dict[str, str]]:
    if not budget.spend():
        return
    if index == len(tokens):
        if pos == len(card):
            yield dict(got)
        return
    token = tokens[index]
    if token.kind == "sep":
        end = pos
        while end < len(card) and card[end] in seps:
            end += 1
        if end > pos:
            yield from _walk(card, end, tokens, index + 1, seps, got, budget)
        return
    if token.kind == "text":
        if card.startswith(token.value, pos):
            yield from _walk(card, pos + len(token.value), tokens, index + 1, seps, got, budget)
        return
    # A field: the longest separator-free run bounds its value.
    limit = pos
    while limit < len(card) and card[limit] not in seps:
        limit += 1
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None or following.kind == "sep":
        ends: range | list[int] = [limit] if limit > pos else []
    else:
        ends = range(pos + 1, limit + 1)
    for end in ends:
        got[token.value] = card[pos:end]
        yield from _walk(card, end, tokens, index + 1, seps, got, budget)
        del got[token.value]

"""Evidence text cut into pieces, the matched spans marked, for the case page.

Findings index the message as it arrived; the stored evidence has personal
data replaced by its masked form (``rules.core.model.masked_text``), which
may be longer or shorter. Spans are mapped through those replacements, then
cut into non-overlapping pieces; the template escapes every piece.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    labels: tuple[str, ...] = ()  # categories that matched here; empty: plain text


def _span(finding: Mapping[str, Any]) -> tuple[int, int] | None:
    start, end = finding.get("start"), finding.get("end")
    if type(start) is not int or type(end) is not int or not 0 <= start < end:
        return None
    return start, end


def _mapper(findings: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, int]]:
    """(start, end, new length) of each personal-data replacement, in order."""
    cuts = []
    for f in findings:
        span = _span(f)
        if f.get("detector") == "pii" and span is not None:
            cuts.append((span[0], span[1], len(str(f.get("match", "")))))
    cuts.sort()
    kept: list[tuple[int, int, int]] = []
    for cut in cuts:  # masked_text replaced non-overlapping spans only
        if not kept or cut[0] >= kept[-1][1]:
            kept.append(cut)
    return kept


def _moved(position: int, cuts: list[tuple[int, int, int]], is_end: bool) -> int:
    shift = 0
    for start, end, length in cuts:
        if position >= end:
            shift += length - (end - start)
        elif position > start or (position == start and is_end):
            # inside a replaced span: snap to the replacement's edge
            return start + shift + (length if is_end else 0)
        else:
            break
    return position + shift


def highlight(evidence: str, findings: Sequence[Mapping[str, Any]]) -> list[Piece]:
    """``evidence`` as pieces; each matched piece names its categories."""
    cuts = _mapper(findings)
    spans: list[tuple[int, int, str]] = []
    for f in findings:
        span = _span(f)
        if span is None:
            continue
        start = min(_moved(span[0], cuts, False), len(evidence))
        end = min(_moved(span[1], cuts, True), len(evidence))
        if start < end:
            spans.append((start, end, str(f.get("category") or f.get("detector") or "?")))
    if not spans:
        return [Piece(evidence)] if evidence else []
    edges = sorted({0, len(evidence)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
    pieces: list[Piece] = []
    for left, right in itertools.pairwise(edges):
        labels = tuple(dict.fromkeys(name for s, e, name in spans if s <= left and right <= e))
        if pieces and pieces[-1].labels == labels:
            pieces[-1] = Piece(pieces[-1].text + evidence[left:right], labels)
        else:
            pieces.append(Piece(evidence[left:right], labels))
    return pieces

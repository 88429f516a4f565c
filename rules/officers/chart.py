"""The digest's chart: violations per day per group over the last 7 days, as a PNG.

Drawn with matplotlib's Agg backend through the object API (a ``Figure`` of
its own, never ``pyplot``), so it needs no display, keeps no global state and
can run in a worker thread. A fresh server often has no CJK font, so the image
holds only ASCII: groups are letters (A, B, ...), days are ``MM-DD``, and the
digest text says which group each letter is (:class:`ChartLegend`). The
busiest groups get their own letter; the rest share the last one.
"""

from __future__ import annotations

import io
import string
from collections.abc import Sequence
from dataclasses import dataclass

from rules.officers.digest import Digest

MAX_SERIES = 6  # groups drawn on their own; more share one bar segment
WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100  # readable on a phone, 10-20 KB
FONT_SIZE = 14


@dataclass(frozen=True)
class ChartLegend:
    """Which letter stands for which group; ``others`` groups share ``others_letter``."""

    letters: dict[str, str]  # group id -> letter
    others: tuple[str, ...] = ()  # group ids drawn together
    others_letter: str = ""


@dataclass(frozen=True)
class DigestChart:
    png: bytes
    legend: ChartLegend


def chart_legend(digest: Digest) -> ChartLegend | None:
    """Letters for the groups with violations in the chart's days (busiest first); None if none."""
    totals = [(sum(g.per_day), g.group_id) for g in digest.groups if sum(g.per_day)]
    if not totals:
        return None
    ranked = [group_id for _, group_id in sorted(totals, key=lambda t: (-t[0], t[1]))]
    own = ranked if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    letters = dict(zip(own, string.ascii_uppercase, strict=False))
    others = tuple(ranked[len(own) :])
    return ChartLegend(letters, others, string.ascii_uppercase[len(own)] if others else "")


def digest_chart(digest: Digest) -> DigestChart | None:
    """The digest's chart, or None when no group had a violation in the last 7 days."""
    legend = chart_legend(digest)
    if legend is None:
        return None
    per_day = {g.group_id: g.per_day for g in digest.groups}
    series = [(letter, list(per_day[group_id])) for group_id, letter in legend.letters.items()]
    if legend.others:
        summed = [sum(day) for day in zip(*(per_day[g] for g in legend.others), strict=True)]
        series.append((legend.others_letter, summed))
    days = [start.astimezone(digest.zone).strftime("%m-%d") for start in digest.day_starts]
    return DigestChart(render_png(days, series), legend)


def render_png(days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> bytes:
    """Stacked bars (one segment per series) with each day's total on top; ASCII labels only."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bottoms = [0] * len(days)
    palette = [f"C{n}" for n in range(len(series))]
    for (label, values), colour in zip(series, palette, strict=True):
        axes.bar(days, values, bottom=bottoms, label=label, color=colour, width=0.7)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for x, total in enumerate(bottoms):
        if total:
            axes.annotate(
                str(total),
                (x, total),
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE,
                xytext=(0, 2),
                textcoords="offset points",
            )
    axes.set_ylim(0, max(max(bottoms) * 1.15, 1))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=FONT_SIZE)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(  # above the bars, so it never hides one
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=len(series),
        frameon=False,
        fontsize=FONT_SIZE,
    )
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()

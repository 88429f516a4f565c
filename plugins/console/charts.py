"""Charts as inline SVG, drawn on the server: no JavaScript, no CDN, no inline style.

Colours come from classes styled by ``static/console-*.css``; sizes are SVG
attributes (not ``style``), so the strict Content-Security-Policy holds.
Every label is escaped: group names and categories come from outside.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

BAR_HEIGHT = 22
LABEL_WIDTH = 130
CHART_WIDTH = 360


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(items: Sequence[tuple[str, int]], title: str) -> Markup:
    """Horizontal bars, biggest first as given; an empty chart says so."""
    if not items:
        return Markup('<p class="empty">{}</p>').format("暂无数据")
    top = max(value for _, value in items) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 48
    height = BAR_HEIGHT * len(items) + 4
    parts = [
        Markup(
            '<svg class="chart bars" viewBox="0 0 {w} {h}" width="100%" role="img" '
            'aria-label="{t}" preserveAspectRatio="xMinYMin meet"><title>{t}</title>'
        ).format(w=CHART_WIDTH, h=height, t=title)
    ]
    for row, (label, value) in enumerate(items):
        y = row * BAR_HEIGHT + 2
        width = max(value / top * room, 1 if value else 0)
        shown = label if len(label) <= 12 else label[:11] + "…"
        parts.append(
            Markup(
                "<g><title>{label}: {value}</title>"
                '<text class="label" x="{lx}" y="{ty}" text-anchor="end">{shown}</text>'
                '<rect class="bar" x="{bx}" y="{y}" width="{bw}" height="{bh}" rx="2"></rect>'
                '<text class="value" x="{vx}" y="{ty}">{value}</text></g>'
            ).format(
                label=label,
                shown=shown,
                value=value,
                lx=LABEL_WIDTH - 6,
                ty=y + BAR_HEIGHT - 8,
                bx=LABEL_WIDTH,
                y=y,
                bw=_number(width),
                bh=BAR_HEIGHT - 6,
                vx=_number(LABEL_WIDTH + width + 4),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def day_chart(days: Sequence[int], labels: Sequence[str], title: str) -> Markup:
    """One column per day, oldest left; ``labels`` name the days (first and last shown)."""
    width, height, base = CHART_WIDTH, 140, 118
    count = max(len(days), 1)
    step = (width - 8) / count
    top = max(days, default=0) or 1
    parts = [
        Markup(
            '<svg class="chart days" viewBox="0 0 {w} {h}" width="100%" role="img" '
            'aria-label="{t}"><title>{t}</title>'
            '<line class="axis" x1="4" y1="{b}" x2="{x2}" y2="{b}"></line>'
        ).format(w=width, h=height, t=title, b=base, x2=width - 4)
    ]
    for index, value in enumerate(days):
        column = value / top * (base - 14)
        label = labels[index] if index < len(labels) else ""
        parts.append(
            Markup(
                '<rect class="bar" x="{x}" y="{y}" width="{cw}" height="{ch}">'
                "<title>{label}: {value}</title></rect>"
            ).format(
                x=_number(4 + index * step + 1),
                y=_number(base - column),
                cw=_number(max(step - 2, 1)),
                ch=_number(column),
                label=label,
                value=value,
            )
        )
    if labels:
        parts.append(
            Markup(
                '<text class="label" x="4" y="{y}">{first}</text>'
                '<text class="label" x="{x}" y="{y}" text-anchor="end">{last}</text>'
                '<text class="value" x="{x}" y="12" text-anchor="end">{peak}: {top}</text>'
            ).format(
                y=height - 6, x=width - 4, first=labels[0], last=labels[-1], peak="峰值", top=top
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)

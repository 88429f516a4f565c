"""The digest as text an officer reads on a phone (wording in ``rules.core.messages``).

A header with the period and the totals; one short block per group with
something to say (quiet groups share one line); the held reports; the chart's
legend last, right before the image. Long lists stop after a few lines with a
count of the rest, and a digest longer than one message is split at block
boundaries into parts the outbox sends in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from rules.core.messages import Language, action_name, category_name, render, truncate
from rules.core.records import FailedAction, HeldReport, OpenAppeal, OpenReview, OpenTimeline
from rules.officers.chart import ChartLegend
from rules.officers.digest import Digest, GroupDigest
from rules.officers.outbox import MAX_CHARS

MAX_LINES = 5  # per list in a group block
MAX_HELD_LINES = 20
MAX_NAMES = 10  # groups named in one line


def render_digest(digest: Digest, legend: ChartLegend | None = None) -> list[str]:
    """The digest's messages (usually one); ``legend`` when the chart image goes with it."""
    blocks = [_head(digest)]
    quiet = [g for g in digest.groups if not g.notable]
    blocks.extend(_group_block(g, digest, legend) for g in digest.groups if g.notable)
    lang = digest.language
    if quiet and len(quiet) < len(digest.groups):
        blocks.append(render("digest_quiet", lang, count=len(quiet), groups=_names(quiet, lang)))
    if digest.held:
        blocks.append(_held_block(digest))
    if legend is not None:
        blocks.append(_legend_line(digest, legend))
    return _split(blocks, digest)


def _sep(lang: Language) -> str:
    return "、" if lang == "zh" else ", "


def _when(digest: Digest, at: datetime) -> str:
    return at.astimezone(digest.zone).strftime("%m-%d %H:%M")


def _date(digest: Digest) -> str:
    day = digest.until.astimezone(digest.zone).date()
    return f"{day.year}年{day.month}月{day.day}日" if digest.language == "zh" else day.isoformat()


def _group_label(group: GroupDigest, lang: Language) -> str:
    if not group.name:
        return group.group_id
    return (
        f"{group.name}（{group.group_id}）" if lang == "zh" else f"{group.name} ({group.group_id})"
    )


def _member(member_id: str, card: str, lang: Language) -> str:
    if not card:
        return member_id
    return f"{card}（{member_id}）" if lang == "zh" else f"{card} ({member_id})"


def _names(groups: Sequence[GroupDigest], lang: Language) -> str:
    names = [g.name or g.group_id for g in groups]
    shown = _sep(lang).join(names[:MAX_NAMES])
    if len(names) > MAX_NAMES:
        shown += "等" if lang == "zh" else ", ..."
    return shown


def _counts(
    pairs: Sequence[tuple[str, int]], lang: Language, name: Callable[[str, Language], str]
) -> str:
    space = "" if lang == "zh" else " "
    return _sep(lang).join(f"{name(key, lang)}{space}{n}" for key, n in pairs)


def _head(digest: Digest) -> str:
    lang = digest.language
    groups = digest.groups
    lines = [
        render(
            "digest_header",
            lang,
            date=_date(digest),
            since=_when(digest, digest.since),
            until=_when(digest, digest.until),
        ),
        render(
            "digest_summary",
            lang,
            groups=len(groups),
            cases=sum(g.cases for g in groups),
            failed=sum(len(g.failed) for g in groups),
            grace=sum(len(g.in_grace) for g in groups),
            appeals=sum(len(g.appeals) for g in groups),
        ),
    ]
    reviews = sum(len(g.reviews) for g in groups)
    if reviews:
        lines.append(render("digest_reviews_total", lang, count=reviews))
    unregistered = [g for g in groups if not g.registered]
    if unregistered:
        names = _names(unregistered, lang)
        lines.append(render("digest_unregistered", lang, count=len(unregistered), groups=names))
    if digest.quiet:
        lines.append(render("digest_nothing", lang))
    return "\n".join(lines)


def _section(key: str, items: list[str], lang: Language, limit: int = MAX_LINES) -> list[str]:
    """A titled list (the title counts every item), cut after ``limit`` lines."""
    if not items:
        return []
    shown = items
    if len(items) > limit:
        shown = [*items[: limit - 1], render("digest_more", lang, count=len(items) - limit + 1)]
    return [render(key, lang, count=len(items)), *shown]


def _group_block(group: GroupDigest, digest: Digest, legend: ChartLegend | None) -> str:
    lang = digest.language  # one digest, one language (see rules.officers.digest)
    letter = ""
    if legend is not None:
        letter = legend.letters.get(group.group_id) or (
            legend.others_letter if group.group_id in legend.others else ""
        )
    tag = render("digest_chart_tag", lang, letter=letter) if letter else ""
    lines = [render("digest_group", lang, group=_group_label(group, lang), tag=tag)]
    if group.cases:
        categories = _counts(group.categories, lang, category_name)
        lines.append(render("digest_cases", lang, count=group.cases, categories=categories))
    if group.actions:
        actions = _counts(group.actions, lang, action_name)
        lines.append(render("digest_actions", lang, actions=actions))
    if group.dry_run:
        lines.append(render("digest_dry_run", lang, count=group.dry_run))
    lines += _section("digest_failed", [_failed(f, lang) for f in group.failed], lang)
    lines += _section("digest_grace", [_grace(t, group, digest) for t in group.in_grace], lang)
    lines += _section("digest_appeals", [_appeal(a, digest) for a in group.appeals], lang)
    lines += _section("digest_reviews", [_review(r, digest) for r in group.reviews], lang)
    if group.over_cap is not None:
        lines.append(
            render("digest_over_cap", lang, count=group.member_count, limit=group.over_cap)
        )
    if group.idle_days is not None:
        lines.append(render("digest_idle", lang, days=group.idle_days))
    return "\n".join(lines)


def _failed(action: FailedAction, lang: Language) -> str:
    return render(
        "digest_failed_line",
        lang,
        case=action.case_id,
        action=action_name(action.kind, lang),
        member=_member(action.member_id, action.card, lang),
        detail=truncate(action.detail or "-", 60),
    )


def _grace(timeline: OpenTimeline, group: GroupDigest, digest: Digest) -> str:
    deadline = timeline.flagged_at + group.grace
    key = "digest_grace_overdue" if deadline <= digest.until else "digest_grace_line"
    member = _member(timeline.member_id, timeline.card, digest.language)
    return render(key, digest.language, member=member, deadline=_when(digest, deadline))


def _appeal(appeal: OpenAppeal, digest: Digest) -> str:
    return render(
        "digest_appeal_line",
        digest.language,
        task=appeal.task_id,
        case=appeal.case_id if appeal.case_id is not None else "-",
        member=appeal.requester_id,
        at=_when(digest, appeal.at),
    )


def _review(review: OpenReview, digest: Digest) -> str:
    return render(
        "digest_review_line",
        digest.language,
        case=review.case_id if review.case_id is not None else "-",
        member=_member(review.member_id, review.card, digest.language),
        findings=truncate(review.findings or "-", 80),
        at=_when(digest, review.at),
    )


def _held(held: HeldReport, digest: Digest, names: dict[str, str]) -> str:
    lang = digest.language
    if held.case_id is None:  # not from a case: its text's first line says what it is
        return "· " + truncate(held.text.splitlines()[0] if held.text else "-", 80)
    return render(
        "digest_held_line",
        lang,
        case=held.case_id,
        group=names.get(held.group_id, held.group_id),
        member=_member(held.member_id, held.card, lang),
        categories=_sep(lang).join(category_name(c, lang) for c in held.categories) or "-",
        at=_when(digest, held.at),
    )


def _held_block(digest: Digest) -> str:
    names = {g.group_id: g.name or g.group_id for g in digest.groups}
    items = [_held(h, digest, names) for h in digest.held]
    return "\n".join(_section("digest_held", items, digest.language, MAX_HELD_LINES))


def _legend_line(digest: Digest, legend: ChartLegend) -> str:
    lang = digest.language
    names = {g.group_id: g.name or g.group_id for g in digest.groups}
    pairs = [f"{letter}={names[group_id]}" for group_id, letter in legend.letters.items()]
    if legend.others:
        others = render("digest_chart_other", lang, count=len(legend.others))
        pairs.append(f"{legend.others_letter}={others}")
    return render("digest_chart", lang, legend=_sep(lang).join(pairs))


def _split(blocks: list[str], digest: Digest) -> list[str]:
    """Join blocks into messages of at most MAX_CHARS, cutting only between blocks."""
    parts: list[list[str]] = [[]]
    size = 0
    for block in blocks:
        if parts[-1] and size + len(block) + 2 > MAX_CHARS:
            header = render(
                "digest_continued", digest.language, date=_date(digest), part=len(parts) + 1
            )
            parts.append([header])
            size = len(header)
        parts[-1].append(block)
        size += len(block) + 2
    return ["\n\n".join(part) for part in parts]

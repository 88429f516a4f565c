"""Which decisions a case or a to-do item offers, and the chat command each one runs.

Every decision is a chat command run as the signed-in person typing it in the
case's group (``Console.run_command``): ``/赦免 #12``, ``/维持 #12 说明``,
``/确认 #12`` and ``/误判 #12`` (the review queue), ``/误判 #12 加白`` (the
allow-list entry a false positive offers), ``/解禁 @成员`` (lift a mute). The
command layer checks the person's rights, does it, answers appellants and
audits it, exactly as in the chat. Only a member report has no command that
closes it: the console closes it itself (audited) after acting on it.

A decision names a ``done`` code; the page after it shows that code's fixed
wording (never text carried in the URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rules.commands.spec import lookup

# The review queue's commands (/确认, /误判) exist once that feature is in.
REVIEW_COMMANDS = lookup("确认") is not None and lookup("误判") is not None
# Spellings unlike the banned term; allow-listing one lets only that spelling pass
# (the rule of ``rules.commands.review``: never a term as written, never a picture).
ALLOWABLE_HOW = frozenset({"homophone", "pinyin", "mixed"})
MAX_NOTE = 200

DONE_TEXT: Mapping[str, str] = {
    "pardoned": "已赦免，此案的违规记分已作废。",
    "upheld": "已维持。",
    "confirmed": "已确认属实，已按群规处理。",
    "voided": "已判为误判，此案作废，不记违规。",
    "allowed": "已判为误判，命中的文字已加入本群白名单，今后不再拦截。",
    "unmuted": "已解除禁言。",
    "warned": "已警告被举报成员，举报已处理。",
    "muted": "已禁言被举报成员，举报已处理。",
    "closed": "举报已标为处理完毕。",
    "dismissed": "举报已驳回。",
}


@dataclass(frozen=True, slots=True)
class Choice:
    """One button: the form's ``decision`` value, its label, and what it runs."""

    key: str
    label: str
    command: str  # the command's text ("" for closing a report)
    done: str  # the DONE_TEXT code shown after it
    primary: bool = False
    note: bool = False  # takes the note field
    mention: bool = False  # the command names the case's member (@)


def allowable_words(findings: Iterable[Mapping[str, Any]]) -> list[str]:
    """The matched text of a case's findings that ``/误判 #N 加白`` would allow-list."""
    return list(
        dict.fromkeys(
            str(f.get("match") or "").strip()
            for f in findings
            if f.get("detector") == "keyword"
            and f.get("image") is None
            and f.get("how") in ALLOWABLE_HOW
            and str(f.get("match") or "").strip()
        )
    )


def case_choices(
    case_id: int,
    status: str,
    tasks: Sequence[Any],
    findings: Sequence[Mapping[str, Any]],
    allowed: Iterable[str],
) -> list[Choice]:
    """The decisions a case offers now (``tasks``: its to-do items; ``allowed``: its group's
    allow-list)."""
    open_review = any(t.kind == "review" and t.status == "open" for t in tasks)
    was_review = any(t.kind == "review" for t in tasks)
    words = [w for w in allowable_words(findings) if w not in set(allowed)]
    offer = "、".join(words)
    if open_review and REVIEW_COMMANDS:
        choices = [
            Choice("confirm", "确认属实", f"/确认 #{case_id}", "confirmed", primary=True),
            Choice("falsepositive", "误判", f"/误判 #{case_id}", "voided"),
        ]
        if words:
            choices.append(
                Choice("allow", f"误判并加白「{offer}」", f"/误判 #{case_id} 加白", "allowed")
            )
        return choices
    choices = []
    if status == "pardoned" and was_review and words and REVIEW_COMMANDS:
        choices.append(Choice("allow", f"加白「{offer}」", f"/误判 #{case_id} 加白", "allowed"))
    if status != "pardoned":
        choices.append(Choice("pardon", "赦免", f"/赦免 #{case_id}", "pardoned", primary=True))
    if status == "open":
        choices.append(Choice("uphold", "维持", f"/维持 #{case_id}", "upheld", note=True))
    return choices


def mute_in_force(actions: Sequence[Any], now: datetime) -> bool:
    """Whether a mute of this case was carried out and has not run out yet."""
    for action in actions:
        if action.kind == "mute" and action.status in ("done", "substituted"):
            length = timedelta(seconds=action.duration_s or 0)
            if not action.duration_s or action.at + length > now:
                return True
    return False


UNMUTE = Choice("unmute", "解除禁言", "/解禁", "unmuted", mention=True)


def report_choices(mute_minutes: int = 10) -> list[Choice]:
    """What a member report offers: act on the reported member, or close it."""
    return [
        Choice("warn", "警告该成员", "/警告 成员举报", "warned", primary=True, mention=True),
        Choice(
            "mute",
            f"禁言 {mute_minutes} 分钟",
            f"/禁言 {mute_minutes}m 成员举报",
            "muted",
            mention=True,
        ),
        Choice("close", "已处理", "", "closed"),
        Choice("dismiss", "驳回", "", "dismissed"),
    ]


def with_note(command: str, note: str) -> str:
    """The command with an officer's note after it (one line, bounded)."""
    note = " ".join(note.split())[:MAX_NOTE]
    return f"{command} {note}" if note else command

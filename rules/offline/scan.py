"""Offline scan: JSONL chat events in, JSONL decisions out, through the real engine.

Public interface (README): each input line is
``{"id", "platform", "group", "user", "card", "text", "time"?, "role"?}``; each
output line is ``{"id", "findings": [{"detector", "category", "match", "start",
"end", "strength", "how"}], "actions": [...]}`` (``strength``: ``strong``, ``medium`` or
``weak``; ``how``: the match kind; ``review`` among the actions where the findings were
too weak for the ladder and went to the officers' review queue). Lines are handled in
order with state carried across lines (flood windows, strikes). A malformed line yields
``{"id", "line", "error", "findings": [], "actions": []}`` and scanning goes on:
a line that is not UTF-8 (read with ``surrogateescape``), not JSON, nested too
deep, or has a field of the wrong type or out of range (ids of at most
:data:`MAX_ID` storable characters, a ``time`` a date can hold). Only the
first ``MAX_TEXT`` characters of a text are checked (as on every platform).
Nothing is carried out: every platform is a dry-run gateway with its nominal
capabilities, so fallbacks (no mute on WeChat) show as they would happen.

Decisions are recorded as the bot records them (in a throw-away database, or
``--db``), but no platform waits on them: the store batches a scan's writes
into large transactions (:func:`scan_runtime`), so lines go at the engine's speed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from rules.config import Config
from rules.core.model import (
    MAX_URL,
    ActionKind,
    ChatEvent,
    Decision,
    EventKind,
    Finding,
    ImageRef,
    Member,
    OutcomeStatus,
    Platform,
    Role,
    bounded,
    qualify,
)
from rules.core.ports import NOMINAL_CAPABILITIES
from rules.images.fetch import FetchPolicy, source_fetcher
from rules.moderation.executor import DryRunGateway
from rules.offline.qq_export import parse_qq_export
from rules.runtime import MEMORY_URL, Runtime

ScanFormat = Literal["jsonl", "qq-export"]

REPORTED_ACTIONS = (
    ActionKind.DELETE,
    ActionKind.WARN,
    ActionKind.REMIND,
    ActionKind.MUTE,
    ActionKind.KICK,
    ActionKind.ESCALATE,
    ActionKind.REVIEW,
)


MAX_ID = 200
MAX_IMAGES = 20  # pictures per line
LAST_TIMESTAMP = 253402300799  # 9999-12-31 23:59:59 UTC


def _storable(value: str) -> str:
    if bounded(value, len(value)) != value:
        raise ValueError("contains NUL or a lone surrogate")
    return value


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(_storable)]


class ScanLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(max_length=MAX_ID), AfterValidator(_storable)]
    platform: Platform
    group: Id
    user: Id
    card: str = ""
    text: str
    time: float | None = Field(None, ge=0, le=LAST_TIMESTAMP, allow_inf_nan=False)
    role: Role = Role.MEMBER
    # Pictures: local paths (absolute, or relative to the input file's folder),
    # file:// or http(s):// URLs.
    images: list[Annotated[str, Field(min_length=1, max_length=MAX_URL)]] = Field(
        default_factory=list, max_length=MAX_IMAGES
    )

    def to_event(self, line_no: int) -> ChatEvent:
        when = (
            datetime.fromtimestamp(self.time, UTC) if self.time is not None else datetime.now(UTC)
        )
        return ChatEvent(
            kind=EventKind.MESSAGE,
            platform=self.platform,
            group_id=qualify(self.platform, self.group),
            member=Member(qualify(self.platform, self.user), card=self.card, role=self.role),
            time=when,
            text=self.text,
            message_id=f"scan-{line_no}-{self.id}",
            images=tuple(ImageRef(source, source) for source in self.images),
        )


def _error_line(line_no: int, raw_id: object, message: str) -> dict[str, Any]:
    return {
        "id": bounded(raw_id, MAX_ID) if isinstance(raw_id, str) else None,
        "line": line_no,
        "error": message,
        "findings": [],
        "actions": [],
    }


def _utf8(raw: str) -> bool:
    """False for a line with bytes that were not UTF-8 (read as lone surrogates)."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "line"
        parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)


def _finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "detector": f.detector,
        "category": f.category,
        "match": f.match,
        "start": f.start if f.start >= 0 else None,
        "end": f.end if f.end >= 0 else None,
        "strength": f.strength.name.lower(),
        "how": f.how.value,
    }
    if f.image is not None:
        out["image"] = f.image
    return out


def decision_line(
    event_id: str, decision: Decision, pictures: Decision | None = None
) -> dict[str, Any]:
    """The public output shape for one message: its text's decision and its pictures'."""
    decisions = [decision] if pictures is None else [decision, pictures]
    done: list[str] = []
    for outcome in (o for d in decisions for o in d.outcomes):
        kind = outcome.action.kind
        if (
            outcome.status in (OutcomeStatus.DONE, OutcomeStatus.DRY_RUN)
            and kind in REPORTED_ACTIONS
            and kind.value not in done
        ):
            done.append(kind.value)
    return {
        "id": event_id,
        "findings": [_finding(f) for d in decisions for f in d.findings],
        "actions": done,
    }


async def scan_lines(
    runtime: Runtime, lines: Iterable[str], base_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Decide every line; return the output records in input order.

    ``base_dir``: where relative picture paths are (the input file's folder).
    """
    gateways = {p: DryRunGateway(p, caps) for p, caps in NOMINAL_CAPABILITIES.items()}
    images = runtime.config.policy().images
    fetch = source_fetcher(
        FetchPolicy(max_bytes=images.max_bytes, timeout=images.fetch_timeout.total_seconds()),
        base_dir=base_dir,
    )
    out: list[dict[str, Any]] = []
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if not _utf8(raw):
            out.append(_error_line(line_no, None, "not valid UTF-8"))
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            out.append(_error_line(line_no, None, f"not valid JSON: {exc.msg}"))
            continue
        except RecursionError:
            out.append(_error_line(line_no, None, "not valid JSON: nested too deep"))
            continue
        if not isinstance(data, dict):
            out.append(_error_line(line_no, None, "a line must be a JSON object"))
            continue
        try:
            line = ScanLine.model_validate(data)
        except ValidationError as exc:
            out.append(_error_line(line_no, data.get("id"), _describe(exc)))
            continue
        event = line.to_event(line_no)
        gateway = gateways[event.platform]
        decision = await runtime.engine.handle(event, gateway)
        pictures = None
        if runtime.pictures is not None and runtime.pictures.wants(event, decision):
            pictures = await runtime.pictures.follow_up(runtime.engine, event, gateway, fetch)
        out.append(decision_line(line.id, decision, pictures))
    return out


def summary_table(records: list[dict[str, Any]]) -> str:
    """A short plain-text table: messages, findings by detector/category, actions."""
    findings: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    flagged = errors = 0
    for record in records:
        errors += "error" in record
        flagged += bool(record["findings"])
        findings.update(f"{f['detector']}/{f['category'] or '-'}" for f in record["findings"])
        actions.update(record["actions"])
    rows = [
        ("messages", len(records)),
        ("flagged", flagged),
        ("malformed", errors),
        *sorted(findings.items(), key=lambda kv: (-kv[1], kv[0])),
        *((f"action {k}", v) for k, v in sorted(actions.items(), key=lambda kv: (-kv[1], kv[0]))),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {count:>7}" for name, count in rows)


async def scan_runtime(config: Config, db_url: str | None) -> Runtime:
    """The runtime a scan runs on: dry run, state of its own, the store's writes batched
    (``offline``); a throw-away database when ``db_url`` is None."""
    return await Runtime.start(config, db_url=db_url or MEMORY_URL, dry_run=True, offline=True)


def _input_folder(source: TextIO) -> Path:
    """The folder of the input file (relative picture paths are there), else the cwd."""
    name = getattr(source, "name", None)
    if isinstance(name, str) and Path(name).is_file():
        return Path(name).resolve().parent
    return Path.cwd()


async def run_scan(
    config: Config,
    source: TextIO,
    sink: TextIO,
    db_url: str | None,
    fmt: ScanFormat = "jsonl",
    summary: TextIO | None = None,
) -> int:
    """Scan ``source`` into ``sink``; return the number of malformed lines.

    ``fmt`` is ``jsonl`` (the public input shape) or ``qq-export`` (a QQ
    desktop text export); ``summary``, when given, receives a short table.
    """
    lines: Iterable[str] = source
    if fmt == "qq-export":
        lines = (json.dumps(r, ensure_ascii=False) for r in parse_qq_export(source))
    runtime = await scan_runtime(config, db_url)
    try:
        records = await scan_lines(runtime, lines, _input_folder(source))
    finally:
        await runtime.close()
    for record in records:
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    if summary is not None:
        summary.write(summary_table(records) + "\n")
    return sum("error" in r for r in records)

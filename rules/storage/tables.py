"""The schema, as SQLAlchemy Core tables. Alembic migrations create and evolve it.

Timestamps are stored as UTC and always come back timezone-aware. Case evidence
never holds raw personal data: PII spans are masked before they are written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

groups = Table(
    "groups",
    metadata,
    Column("id", String(128), primary_key=True),  # platform-qualified
    Column("platform", String(16), nullable=False),
    Column("name", String(255), nullable=False, default=""),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_activity", UtcDateTime, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("card", String(255), nullable=False, default=""),
    Column("nickname", String(255), nullable=False, default=""),
    Column("role", String(16), nullable=False, default="member"),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)

handled_messages = Table(
    "handled_messages",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("member_card", String(255), nullable=False, default=""),
    Column("message_id", String(128)),
    Column("evidence", Text, nullable=False, default=""),  # PII masked
    Column("normalized", Text, nullable=False, default=""),  # what the filter saw, PII masked
    Column("findings", JSON, nullable=False),
    Column("step", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="open"),  # open | upheld | pardoned
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_cases_group_created", "group_id", "created_at"),
    Index("ix_cases_member", "group_id", "member_id"),
)

strikes = Table(
    "strikes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("weight", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("voided", Boolean, nullable=False, default=False),
    Index("ix_strikes_member_at", "group_id", "member_id", "at"),
)

actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target_id", String(128), nullable=False),
    # an OutcomeStatus: planned (decided, not yet carried out), interrupted (still planned
    # when the bot stopped), done, failed, skipped, substituted, dry_run, unknown
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("duration_s", Integer),
    Column("at", UtcDateTime, nullable=False),
    # The action's place in its case's plan (the engine's cases): its outcome updates
    # the row planned with it. None for rows written with their outcome at once.
    Column("seq", Integer),
    Index("ix_actions_case", "case_id"),
)

# Cases decided and not yet settled: their planned actions' outcomes and the reports
# they owe are still to be recorded. ``handler`` is the process run that decided the
# case (``rules.moderation.recovery`` settles the cases of runs that are gone).
unsettled_cases = Table(
    "unsettled_cases",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("handler", String(128), nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("officer_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("sent_at", UtcDateTime),
    # report: sent when due | held: waits for the officer's next digest | digest
    Column("kind", String(16), nullable=False, default="report"),
    Column("image", LargeBinary),  # a PNG sent after the text (the digest chart); cleared once sent
    Column("dedupe_key", String(191)),  # e.g. one digest per officer and day
    Index("ix_outbox_due", "sent_at", "next_attempt_at"),
    UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor_id", String(128), nullable=False),
    Column("group_id", String(128)),
    Column("command", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

group_words = Table(
    "group_words",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(128), nullable=False),  # "*" for words that apply everywhere
    Column("list", String(16), nullable=False),  # block | allow
    Column("category", String(64), nullable=False, default=""),
    Column("word", String(255), nullable=False),
    Column("added_by", String(128), nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("group_id", "list", "category", "word", name="uq_group_words"),
)

member_compliance = Table(
    "member_compliance",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("problem", Text, nullable=False, default=""),  # why the card is not compliant
    Column("first_flagged_at", UtcDateTime, nullable=False),
    Column("last_reminded_at", UtcDateTime),
    Column("acted_at", UtcDateTime),  # when the grace period ended in an action
)


group_settings = Table(
    "group_settings",
    metadata,
    Column("group_id", String(128), primary_key=True),
    # Per-group policy overrides set by command (/config set, /dryrun), as the
    # nested mapping a ``[groups."<id>"]`` config table would hold.
    Column("overrides", JSON, nullable=False),
    Column("updated_by", String(128), nullable=False, default=""),
    Column("updated_at", UtcDateTime, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # appeal | report
    Column("group_id", String(128), nullable=False),
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("requester_id", String(128), nullable=False),  # who appealed or reported
    Column("subject_id", String(128), nullable=False, default=""),  # the member concerned
    Column("text", Text, nullable=False, default=""),  # reason given, PII masked
    Column("evidence", Text, nullable=False, default=""),  # quoted message, PII masked
    Column("status", String(16), nullable=False, default="open"),  # open | upheld | pardoned
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_by", String(128)),
    Column("decided_at", UtcDateTime),
    Index("ix_tasks_status", "status", "created_at"),
)

group_registry = Table(
    "group_registry",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("name", String(255), nullable=False, default=""),
    Column("owner", String(255), nullable=False, default=""),
    Column("admins", JSON, nullable=False),  # list of names or ids
    Column("responsible", String(255), nullable=False, default=""),  # 负责人
    Column("purpose", Text, nullable=False, default=""),
    Column("registered_on", String(10), nullable=False, default=""),  # YYYY-MM-DD
    Column("updated_by", String(128), nullable=False, default=""),
    Column("updated_at", UtcDateTime, nullable=False),
)

# ---- across groups (rules/protection): the ban list, card history, raids -------------------

bans = Table(
    "bans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(128), nullable=False),  # the banned account
    Column("name", String(255), nullable=False, default=""),  # card or nickname when banned
    Column("reason", Text, nullable=False, default=""),
    Column("origin_group", String(128)),  # where the violation was (None: by command)
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("banned_by", String(128), nullable=False),  # "bot" or the officer's id
    Column("banned_at", UtcDateTime, nullable=False),
    Column("lifted_by", String(128)),
    Column("lifted_at", UtcDateTime),
    Index("ix_bans_lifted", "lifted_at", "id"),
)

ban_accounts = Table(
    "ban_accounts",
    metadata,
    # every account a ban covers: the banned one and the roster's other accounts
    Column("ban_id", Integer, ForeignKey("bans.id"), primary_key=True),
    Column("account", String(128), primary_key=True),
    Column("position", Integer, nullable=False, default=0),  # the banned account is 0
    Index("ix_ban_accounts_account", "account"),
)

card_changes = Table(
    "card_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("old_card", String(255), nullable=False, default=""),  # "" when unknown
    Column("new_card", String(255), nullable=False, default=""),
    Column("source", String(16), nullable=False),  # notice | message | audit | join
    Column("at", UtcDateTime, nullable=False),
    Index("ix_card_changes_member", "group_id", "member_id", "id"),
)

raids = Table(
    "raids",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(128), nullable=False),
    Column("trigger", String(16), nullable=False),  # joins | posts
    Column("started_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("accounts", JSON, nullable=False),  # the raid's new accounts
    Column("muted_group", Boolean, nullable=False, default=False),
    Column("muted", JSON, nullable=False),  # accounts muted (unmuted at the lift)
    Column("removed", JSON, nullable=False),
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("lifted_at", UtcDateTime),
    Index("ix_raids_lifted", "lifted_at"),
)


# The officer console's sign-in links and sessions (migration 0005).

console_links = Table(
    "console_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the token, hex
    Column("person_id", String(128), nullable=False),
    Column("issued_by", String(128), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("used_from", String(64)),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie value, hex
    Column("person_id", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("address", String(64), nullable=False, default=""),
    Index("ix_console_sessions_expires", "expires_at"),
)

# The overview's counts per finished day (migration 0009): per group, the day's cases
# ("case"), cases per category, actions carried out per kind ("action") and failed
# actions ("failed"); console_days says which days are counted and when.
console_daily = Table(
    "console_daily",
    metadata,
    Column("day", UtcDateTime, primary_key=True),  # the local midnight the day starts at
    Column("group_id", String(128), primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("count", Integer, nullable=False),
)

console_days = Table(
    "console_days",
    metadata,
    Column("day", UtcDateTime, primary_key=True),
    Column("computed_at", UtcDateTime, nullable=False),
)

# The case list, newest first, over every group (or filtered by member), and the
# overview's actions of the last 30 days.
Index("ix_cases_created_id", cases.c.created_at, cases.c.id)
Index("ix_cases_member_created", cases.c.member_id, cases.c.created_at)
Index("ix_actions_at", actions.c.at)


# Pictures (migration 0010): the blocklist officers add to by command, and the
# thumbnails and recognised text kept as a case's evidence (QQ picture links expire).
blocked_images = Table(
    "blocked_images",
    metadata,
    Column("key", String(64), primary_key=True),  # the picture's SHA-256
    Column("name", String(255), nullable=False),
    Column("category", String(64), nullable=False),
    Column("hashes", Text, nullable=False),  # "phash:dhash" hex pairs, one per frame
    Column("added_by", String(128), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
)

case_images = Table(
    "case_images",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("position", Integer, primary_key=True),  # index of the picture in its message
    Column("key", String(2000), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("text", Text, nullable=False),  # recognised text (PII as it was: evidence)
    Column("codes", JSON, nullable=False),
    Column("thumbnail", LargeBinary, nullable=False),
    Column("problem", Text, nullable=False, default=""),
)

"""Store queries behind the officers' daily digest, and the outbox writes it needs.

Mixed into :class:`rules.storage.sql_store.SqlStore`; used by
:mod:`rules.officers.digest`. Every query takes the groups of interest and a time
window ``[since, until)`` and returns plain records (defined in
``rules.officers.digest``); counting by category is done in Python because findings are
a JSON column (portable across SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rules.officers.digest import (
    ActionTally,
    CaseStat,
    FailedAction,
    GroupActivity,
    HeldReport,
    OpenAppeal,
    OpenTimeline,
    finding_categories,
)
from rules.storage.base import StoreBase
from rules.storage.tables import actions, cases, groups, member_compliance, members, outbox, tasks


class DigestStoreMixin(StoreBase):
    async def case_stats(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[CaseStat]:
        """Every case of these groups created in ``[since, until)``: when, and its categories."""
        query = (
            select(cases.c.group_id, cases.c.created_at, cases.c.findings)
            .where(cases.c.group_id.in_(list(group_ids)))
            .where(cases.c.created_at >= since)
            .where(cases.c.created_at < until)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CaseStat(r.group_id, r.created_at, finding_categories(r.findings)) for r in rows]

    async def action_tallies(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[ActionTally]:
        """How many actions of each kind and status were recorded per group in the window."""
        query = (
            select(cases.c.group_id, actions.c.kind, actions.c.status, func.count())
            .join(cases, cases.c.id == actions.c.case_id)
            .where(cases.c.group_id.in_(list(group_ids)))
            .where(actions.c.at >= since)
            .where(actions.c.at < until)
            .group_by(cases.c.group_id, actions.c.kind, actions.c.status)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ActionTally(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def failed_actions(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[FailedAction]:
        """Actions that failed in the window, oldest first, with the member they targeted."""
        query = (
            select(
                cases.c.group_id,
                cases.c.id,
                cases.c.member_id,
                cases.c.member_card,
                actions.c.kind,
                actions.c.detail,
                actions.c.at,
            )
            .join(cases, cases.c.id == actions.c.case_id)
            .where(cases.c.group_id.in_(list(group_ids)))
            .where(actions.c.status == "failed")
            .where(actions.c.at >= since)
            .where(actions.c.at < until)
            .order_by(actions.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [FailedAction(r[0], r[1], r[2], r[3] or "", r[4], r[5] or "", r[6]) for r in rows]

    async def open_timelines(self, group_ids: Collection[str]) -> list[OpenTimeline]:
        """Members flagged for their card and not yet acted on (still in grace, or overdue)."""
        mc = member_compliance
        query = (
            select(mc.c.group_id, mc.c.member_id, members.c.card, mc.c.problem)
            .add_columns(mc.c.first_flagged_at)
            .outerjoin(
                members,
                (members.c.group_id == mc.c.group_id) & (members.c.member_id == mc.c.member_id),
            )
            .where(mc.c.group_id.in_(list(group_ids)))
            .where(mc.c.acted_at.is_(None))
            .order_by(mc.c.first_flagged_at)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            OpenTimeline(r.group_id, r.member_id, r.card or "", r.problem, r.first_flagged_at)
            for r in rows
        ]

    async def open_appeals(self, group_ids: Collection[str]) -> list[OpenAppeal]:
        """Appeals (officer tasks of kind ``appeal``) still waiting for a decision."""
        query = (
            select(tasks.c.group_id, tasks.c.id, tasks.c.case_id, tasks.c.requester_id)
            .add_columns(tasks.c.created_at)
            .where(tasks.c.group_id.in_(list(group_ids)))
            .where(tasks.c.kind == "appeal")
            .where(tasks.c.status == "open")
            .order_by(tasks.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [OpenAppeal(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def group_activity(self) -> list[GroupActivity]:
        """Every group the store knows, with its name and last recorded activity."""
        query = select(groups.c.id, groups.c.name, groups.c.last_activity)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [GroupActivity(r.id, r.name, r.last_activity) for r in rows]

    async def note_groups(self, names: dict[str, str], at: datetime) -> None:
        """Remember groups a platform lists (and their names); new ones count as active at ``at``.

        So a group where nobody ever speaks is reported idle ``idle_days`` after
        the bot first saw it, not never.
        """
        known = {g.group_id for g in await self.group_activity()}
        async with self._write() as conn:
            for group_id, name in names.items():
                if group_id in known:
                    if name:
                        await conn.execute(
                            update(groups).where(groups.c.id == group_id).values(name=name)
                        )
                    continue
                await conn.execute(
                    insert(groups).values(
                        id=group_id,
                        platform=group_id.partition(":")[0],
                        name=name,
                        first_seen=at,
                        last_activity=at,
                    )
                )

    # -- the outbox side of the digest ----------------------------------------

    async def held_reports(self, officer_id: str) -> list[HeldReport]:
        """Reports held for this officer's next digest (not yet folded into one), oldest first."""
        query = (
            select(outbox.c.id, outbox.c.case_id, outbox.c.text, outbox.c.created_at)
            .add_columns(cases.c.group_id, cases.c.member_id, cases.c.member_card, cases.c.findings)
            .add_columns(cases.c.created_at.label("case_at"))
            .outerjoin(cases, cases.c.id == outbox.c.case_id)
            .where(outbox.c.officer_id == officer_id)
            .where(outbox.c.kind == "held")
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            HeldReport(
                id=r.id,
                case_id=r.case_id,
                group_id=r.group_id or "",
                member_id=r.member_id or "",
                card=r.member_card or "",
                categories=finding_categories(r.findings or []),
                at=r.case_at or r.created_at,  # when it happened, if from a case
                text=r.text,
            )
            for r in rows
        ]

    async def enqueue_digest(
        self,
        officer_id: str,
        parts: Sequence[tuple[str, bytes | None]],
        held_ids: Collection[int],
        key: str,
        at: datetime,
    ) -> bool:
        """Queue a digest (its messages, the first may carry an image) and fold held reports in.

        One transaction: the digest's items are written and the held reports it
        lists are marked delivered with it. ``key`` makes it idempotent: False
        (and nothing written) when a digest with this key was already queued.
        """
        try:
            async with self._write() as conn:
                for n, (text, image) in enumerate(parts, 1):
                    await conn.execute(
                        insert(outbox).values(
                            officer_id=officer_id,
                            text=text,
                            case_id=None,
                            created_at=at,
                            next_attempt_at=at,
                            attempts=0,
                            last_error="",
                            kind="digest",
                            image=image,
                            dedupe_key=f"{key}#{n}",
                        )
                    )
                if held_ids:
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.id.in_(list(held_ids)))
                        .values(sent_at=at, last_error=f"listed in digest {key}")
                    )
        except IntegrityError:
            return False
        return True

    async def release_held(self, keep: Collection[str], at: datetime) -> int:
        """Send held reports of officers outside ``keep`` as ordinary reports (no digest for them).

        Guards against reports waiting forever after an officer's groups stop
        getting digests (config change). Returns how many were released.
        """
        query = (
            update(outbox)
            .where(outbox.c.kind == "held")
            .where(outbox.c.sent_at.is_(None))
            .where(outbox.c.officer_id.not_in(list(keep)))
            .values(kind="report", next_attempt_at=at)
        )
        async with self._write() as conn:
            result = await conn.execute(query)
        return int(result.rowcount or 0)

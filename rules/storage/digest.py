"""The queries behind the officers' daily digest, and the groups the platforms list.

The :class:`rules.officers.digest_job.GroupBook` of the digest job (the
outbox side is :mod:`rules.storage.outbox`). Every query takes the groups of
interest and, where it says so, a time window ``[since, until)``, and returns
plain records (``rules.core.records``); counting by category is done in Python
because findings are a JSON column (portable across SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, insert, select, update

from rules.core.records import (
    ActionTally,
    CaseStat,
    FailedAction,
    GroupActivity,
    OpenAppeal,
    OpenReview,
    OpenTimeline,
    finding_categories,
)
from rules.storage.base import Repository
from rules.storage.tables import actions, cases, groups, member_compliance, members, tasks


class DigestQueries(Repository):
    """What the digest (and ``/stats``) counts, per group and period."""

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
        async with self._read() as conn:
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
        async with self._read() as conn:
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
        async with self._read() as conn:
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
        async with self._read() as conn:
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
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [OpenAppeal(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def open_reviews(self, group_ids: Collection[str]) -> list[OpenReview]:
        """Cases held for review (officer tasks of kind ``review``) still to be decided."""
        query = (
            select(
                tasks.c.group_id,
                tasks.c.id,
                tasks.c.case_id,
                tasks.c.subject_id,
                cases.c.member_card,
                tasks.c.text,
                tasks.c.created_at,
            )
            .outerjoin(cases, cases.c.id == tasks.c.case_id)
            .where(tasks.c.group_id.in_(list(group_ids)))
            .where(tasks.c.kind == "review")
            .where(tasks.c.status == "open")
            .order_by(tasks.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [OpenReview(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6]) for r in rows]

    async def group_activity(self) -> list[GroupActivity]:
        """Every group the store knows, with its name and last recorded activity."""
        query = select(groups.c.id, groups.c.name, groups.c.last_activity)
        async with self._read() as conn:
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

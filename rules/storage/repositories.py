"""The database and its repositories, opened together and closed together (:class:`Storage`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rules.core.ports import SharedState
from rules.storage.bans import BanRepository
from rules.storage.card_history import CardHistoryRepository
from rules.storage.cases import CaseRepository
from rules.storage.compliance import ComplianceRepository
from rules.storage.database import Database
from rules.storage.digest import DigestQueries
from rules.storage.export import ExportQueries
from rules.storage.journal import ModerationJournal
from rules.storage.outbox import OutboxRepository
from rules.storage.pictures import PictureRepository
from rules.storage.raids import RaidRepository
from rules.storage.registry import RegistryRepository
from rules.storage.resilient import (
    OutageGuard,
    ResilientCompliance,
    ResilientJournal,
    ResilientOutbox,
)
from rules.storage.settings import GroupSettingsRepository
from rules.storage.spool import Spool
from rules.storage.strike_tally import StrikeTally
from rules.storage.tasks import TaskRepository
from rules.storage.transactions import Transactions, transactions_for
from rules.storage.unsettled import UnsettledRepository
from rules.storage.words import WordRepository


@dataclass
class Storage:
    """One database, one repository per aggregate. Open with :meth:`open`."""

    database: Database
    transactions: Transactions  # how the journal's and the outbox's batches run
    journal: ModerationJournal | ResilientJournal  # the engine's Store
    outbox: OutboxRepository | ResilientOutbox
    compliance: ComplianceRepository | ResilientCompliance
    cases: CaseRepository
    tasks: TaskRepository
    settings: GroupSettingsRepository
    words: WordRepository
    registry: RegistryRepository
    digest: DigestQueries
    exports: ExportQueries
    bans: BanRepository  # the organisation's ban list (rules.protection)
    card_history: CardHistoryRepository
    raids: RaidRepository
    pictures: PictureRepository  # picture blocklist and picture evidence of cases
    unsettled: UnsettledRepository  # cases a stop or a crash interrupted (moderation.recovery)
    guard: OutageGuard | None = None  # write-behind during outages (see rules.storage.resilient)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        answer_within: timedelta | None = None,
        shared: SharedState | None = None,
        offline: bool = False,
        normalize: Callable[[str], str] = str,
        spool: Path | None = None,
    ) -> Storage:
        """Open (and migrate) the database at ``url`` and build its repositories.

        ``shared``: when given, the journal, the outbox and the card timelines go on
        through database outages (claims meanwhile go to this shared state).
        ``spool``: with ``shared``, where writes queued during an outage are kept on disk;
        what a previous run left there is written first, in order.
        ``offline``: nobody waits on a platform (``scan``): calls are not group-committed,
        the transactions are batched (on a SQLite file, see ``raw_sqlite.SqliteBatch``).
        ``normalize``: the text layer's fold, stored beside a case's evidence.
        """
        database = await Database.open(url, answer_within)
        transactions = transactions_for(database, offline)
        # Strikes kept in memory only when no other process decides: with shared state
        # across processes, another one may strike the same member at any time.
        tally = StrikeTally() if shared is None or not shared.shared else None
        journal = ModerationJournal(
            database, transactions, normalize, group_commit=not offline, tally=tally
        )
        outbox = OutboxRepository(database, transactions, group_commit=not offline)
        compliance = ComplianceRepository(database)
        storage = cls(
            database=database,
            transactions=transactions,
            journal=journal,
            outbox=outbox,
            compliance=compliance,
            cases=CaseRepository(database, tally),
            tasks=TaskRepository(database),
            settings=GroupSettingsRepository(database),
            words=WordRepository(database),
            registry=RegistryRepository(database),
            digest=DigestQueries(database),
            exports=ExportQueries(database),
            bans=BanRepository(database),
            card_history=CardHistoryRepository(database),
            raids=RaidRepository(database),
            pictures=PictureRepository(database),
            unsettled=UnsettledRepository(database),
        )
        if shared is not None:
            guard = OutageGuard(database, Spool(spool) if spool is not None else None)
            storage.guard = guard
            storage.journal = ResilientJournal(journal, guard, shared)
            storage.outbox = ResilientOutbox(outbox, guard)
            storage.compliance = ResilientCompliance(compliance, guard)
            await guard.replay()
        return storage

    async def close(self) -> None:
        """Land what is queued or batched, then close the database."""
        if self.guard is not None:
            await self.guard.close()
        await self.journal.close()
        await self.outbox.close()
        await self.transactions.close()
        await self.database.close()

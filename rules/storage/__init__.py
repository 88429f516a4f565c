"""Durable state on SQLAlchemy 2 async (SQLite by default, PostgreSQL too).

One :class:`~rules.storage.database.Database` (engine, write lock, migrations)
and one repository per aggregate, each behind the protocol its consumer
declares: the moderation journal (``journal``: the engine's hot path, with its
statements written once in ``journal_sql`` and run by ``sqlite3`` itself on a
SQLite file, ``raw_sqlite``), the outbox, cases, tasks, group settings, card
compliance, custom words, the registry, the digest's queries, case exports,
the protection's ban list, card history and raids, and the cases a stop or a
crash left unsettled (``unsettled``, read by the recovery after a restart).
``resilient`` wraps the journal, the outbox and the compliance timelines by
composition to ride out database outages, keeping what it queues on disk
(``spool``). :class:`Storage` opens them all.
Imports only ``rules.core``.
"""

from rules.storage.repositories import Storage

__all__ = ["Storage"]

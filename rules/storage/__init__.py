"""SQLAlchemy async implementation of the Store port (SQLite default, PostgreSQL)."""

from rules.storage.sql_store import SqlStore

__all__ = ["SqlStore"]

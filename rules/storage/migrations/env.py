"""Alembic environment: runs migrations on a connection handed over by the store.

``rules.storage.migrate.upgrade`` passes an open (sync-facing) connection in
``config.attributes["connection"]``; the ``alembic`` CLI (for writing new
revisions) gets a URL from ``-x url=...`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from rules.storage.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///data/groupguard.db")
    with create_engine(url).connect() as conn:
        _run(conn)

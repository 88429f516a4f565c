"""Store methods for group-card compliance: when a member was first flagged,
last reminded, and acted on (table ``member_compliance``).

Mixed into :class:`rules.storage.sql_store.SqlStore`. Filled in by the members
work (issue 4).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class ComplianceStoreMixin:
    engine: AsyncEngine

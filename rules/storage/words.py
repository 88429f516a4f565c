"""Store methods for per-group custom words and allow-lists (table ``group_words``).

Mixed into :class:`rules.storage.sql_store.SqlStore`. Filled in by the content
filter work (issue 3).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class WordsStoreMixin:
    engine: AsyncEngine

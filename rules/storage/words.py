"""Per-group custom words and allow-lists (table ``group_words``).

The :class:`rules.detectors.custom_words.WordStore` of
:class:`rules.detectors.custom_words.WordService`. ``group_id`` "*" means every group; allow
words are stored with an empty category.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from rules.core.model import utcnow
from rules.core.records import GroupWord, WordList
from rules.storage.base import Repository
from rules.storage.tables import group_words


class WordRepository(Repository):
    async def add_group_word(self, word: GroupWord) -> bool:
        """Insert a custom word; False if the same word is already on that list."""
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(group_words).values(
                        group_id=word.group_id,
                        list=word.list,
                        category=word.category,
                        word=word.word,
                        added_by=word.added_by,
                        at=word.at or utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def remove_group_word(self, group_id: str, list_: WordList, word: str) -> int:
        """Delete a word from a group's list (any category); return rows removed."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(group_words)
                .where(group_words.c.group_id == group_id)
                .where(group_words.c.list == list_)
                .where(group_words.c.word == word)
            )
        return int(result.rowcount or 0)

    async def group_words(self, group_id: str | None = None) -> list[GroupWord]:
        """Custom words of one group (or of all groups when ``group_id`` is None)."""
        query = select(group_words).order_by(group_words.c.id)
        if group_id is not None:
            query = query.where(group_words.c.group_id == group_id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            GroupWord(r["group_id"], r["list"], r["category"], r["word"], r["added_by"], r["at"])
            for r in rows
        ]

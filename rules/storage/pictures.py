"""Pictures: the blocklist officers add to by command, and the evidence kept with cases.

The :class:`rules.detectors.images.blocklist.BlockedImageStore` of the blocklist
service, and where a picture case keeps its thumbnails and recognised text
(``case_images``): QQ picture links expire, the evidence must not.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select

from rules.core.pictures import BlockedImage, CaseImage
from rules.storage.base import Repository
from rules.storage.tables import blocked_images, case_images


class PictureRepository(Repository):
    async def blocked_images(self) -> list[BlockedImage]:
        async with self._read() as conn:
            rows = (await conn.execute(select(blocked_images))).mappings().all()
        return [
            BlockedImage(
                r["key"], r["name"], r["category"], r["hashes"], r["added_by"], r["added_at"]
            )
            for r in rows
        ]

    async def add_blocked_image(self, image: BlockedImage) -> None:
        values = {
            "key": image.key,
            "name": image.name,
            "category": image.category,
            "hashes": image.hashes,
            "added_by": image.added_by,
            "added_at": image.added_at,
        }
        async with self._write() as conn:
            await conn.execute(self._upsert(blocked_images, values, values))

    async def remove_blocked_image(self, key: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(blocked_images).where(blocked_images.c.key == key))
        return bool(result.rowcount)

    async def add_case_images(self, images: Iterable[CaseImage]) -> None:
        rows = [
            {
                "case_id": image.case_id,
                "position": image.position,
                "key": image.key,
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
                "text": image.text,
                "codes": list(image.codes),
                "thumbnail": image.thumbnail,
                "problem": image.problem,
            }
            for image in images
        ]
        if rows:
            async with self._write() as conn:
                await conn.execute(insert(case_images), rows)

    async def case_images(self, case_id: int) -> list[CaseImage]:
        query = (
            select(case_images)
            .where(case_images.c.case_id == case_id)
            .order_by(case_images.c.position)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            CaseImage(
                r["case_id"],
                r["position"],
                r["key"],
                r["sha256"],
                r["width"],
                r["height"],
                r["text"],
                tuple(r["codes"]),
                r["thumbnail"],
                r["problem"],
            )
            for r in rows
        ]

"""The protection's repositories (ban list, card history, raids) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from rules.core.protection_records import Ban, CardChange, RaidRecord
from rules.protection.bans import BanList
from rules.storage import Storage
from tests.fakes import T0, message


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_bans_by_account_listed_and_lifted(storage: Storage) -> None:
    case_id = await storage.journal.open_case(message("x", user="qq:3001"), (), 1, T0)
    repo = storage.bans
    first = await repo.add_ban(
        Ban("qq:3001", ("qq:3001", "wechat:wxid_zs"), "赌博", "bot", T0, "张三", "qq:1", case_id)
    )
    second = await repo.add_ban(Ban("qq:4001", ("qq:4001",), "广告", "qq:7", T0 + timedelta(1)))
    assert first.id is not None and second.id == first.id + 1
    assert first.accounts == ("qq:3001", "wechat:wxid_zs")
    found = await repo.active_ban_for(["wechat:wxid_zs"])
    assert found == first
    assert found is not None and found.banned_at == T0 and found.case_id == case_id
    assert await repo.active_ban_for(["qq:9"]) is None
    assert await repo.active_ban_for([]) is None
    assert [b.id for b in await repo.list_bans()] == [second.id, first.id]  # newest first
    lifted = await repo.lift_ban(first.id, "qq:7", T0 + timedelta(2))
    assert lifted is not None and lifted.lifted_by == "qq:7" and not lifted.active
    assert await repo.lift_ban(first.id, "qq:7", T0) is None  # already lifted
    assert await repo.active_ban_for(["qq:3001"]) is None
    assert [b.id for b in await repo.list_bans()] == [second.id]
    assert [b.id for b in await repo.list_bans(active_only=False, limit=1)] == [second.id]
    assert await repo.get_ban(first.id) == lifted
    # banned again after the lift: a new record
    again, new = await BanList(repo).ban("qq:3001", reason="再犯", by="bot", at=T0)
    assert new and again.id != first.id


async def test_card_history_newest_first_and_last_cards(storage: Storage) -> None:
    repo = storage.card_history
    changes = [
        CardChange("qq:1", "qq:9", "", "张三+办公室", T0, "join"),
        CardChange("qq:1", "qq:9", "张三+办公室", "王老师", T0 + timedelta(1), "notice"),
        CardChange("qq:1", "qq:8", "李四", "李四+教务处", T0, "audit"),
        CardChange("qq:2", "qq:9", "x", "y", T0, "message"),
    ]
    await repo.add_card_changes(changes)
    await repo.add_card_changes([])
    history = await repo.card_history("qq:1", "qq:9")
    assert history == [changes[1], changes[0]]
    assert await repo.card_history("qq:1", "qq:9", limit=1) == [changes[1]]
    assert await repo.last_cards("qq:1") == {"qq:9": "王老师", "qq:8": "李四+教务处"}
    assert await repo.last_cards("qq:3") == {}


async def test_raids_saved_updated_and_recovered(storage: Storage) -> None:
    repo = storage.raids
    raid = await repo.save_raid(
        RaidRecord("qq:1", T0, T0 + timedelta(minutes=30), "joins", ("qq:8", "qq:9"))
    )
    assert raid.id is not None
    updated = await repo.save_raid(
        RaidRecord(
            "qq:1", T0, raid.until, "joins", raid.accounts, True, ("qq:9",), ("qq:8",), id=raid.id
        )
    )
    other = await repo.save_raid(RaidRecord("qq:2", T0, T0, "posts"))
    assert await repo.open_raids() == [updated, other]
    await repo.save_raid(RaidRecord("qq:2", T0, T0, "posts", id=other.id, lifted_at=T0))
    (still,) = await repo.open_raids()
    assert still.muted_group and still.muted == ("qq:9",) and still.removed == ("qq:8",)

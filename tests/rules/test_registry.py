"""The group registry (备案): round trip through the real store, config entries, unregistered."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rules.config import parse_config
from rules.groups.registry import (
    CONFIG_AUTHOR,
    RegistryEntry,
    RegistryError,
    RegistryService,
    entry_text,
    parse_fields,
)
from rules.runtime import Runtime
from rules.storage import Storage

NOW = datetime(2026, 11, 9, 17, 0, tzinfo=UTC)  # 11-10 01:00 in Shanghai


@pytest.fixture
async def registry() -> RegistryService:
    return RegistryService((await Storage.open("sqlite+aiosqlite://")).registry, clock=lambda: NOW)


async def test_set_get_list_update_remove(registry: RegistryService) -> None:
    entry = RegistryEntry(
        "qq:1001", name="办公室工作群", owner="王主任", admins=("李老师", "张老师"), purpose="通知"
    )
    saved = await registry.set(entry, "qq:90001")
    assert saved.registered_on == date(2026, 11, 10)  # today, in Shanghai
    assert (saved.updated_by, saved.updated_at) == ("qq:90001", NOW)
    assert await registry.get("qq:1001") == saved

    updated = await registry.update(
        "qq:1001",
        "qq:90002",
        {"负责人": "王主任", "admins": "李老师、赵老师", "日期": "2024-09-01"},
    )
    assert updated.admins == ("李老师", "赵老师")
    assert updated.responsible == "王主任" and updated.owner == "王主任"
    assert updated.registered_on == date(2024, 9, 1) and updated.updated_by == "qq:90002"
    assert await registry.get("qq:1001") == updated

    created = await registry.update("wechat:r@chatroom", "qq:90001", {"name": "项目群"})
    assert [e.group_id for e in await registry.entries()] == ["qq:1001", "wechat:r@chatroom"]
    assert created.name == "项目群" and created.registered_on == date(2026, 11, 10)

    assert await registry.remove("qq:1001") is True
    assert await registry.remove("qq:1001") is False
    assert await registry.get("qq:1001") is None


async def test_unregistered_are_the_listed_groups_without_an_entry(
    registry: RegistryService,
) -> None:
    await registry.set(RegistryEntry("qq:1"), "qq:9")
    await registry.set(RegistryEntry("qq:3"), "qq:9")
    listed = ["qq:4", "qq:1", "qq:2", "qq:3", "qq:2"]
    assert await registry.unregistered(listed) == ["qq:4", "qq:2"]


async def test_config_entries_are_loaded_and_win_until_changed() -> None:
    config = parse_config(
        {
            "registry": {
                "qq:1001": {
                    "name": "办公室工作群",
                    "owner": "王主任",
                    "admins": ["李老师"],
                    "registered_on": "2024-09-01",
                }
            }
        }
    )
    runtime = await Runtime.start(config, db_url="sqlite+aiosqlite://")
    registry = runtime.registry
    assert registry is not None
    entry = await registry.get("qq:1001")
    assert entry is not None and registry.from_config(entry)
    assert (entry.owner, entry.admins, entry.registered_on) == (
        "王主任",
        ("李老师",),
        date(2024, 9, 1),
    )
    assert await registry.load_config(config.registry) == 0  # unchanged: not rewritten

    await registry.update("qq:1001", "qq:90001", {"owner": "新群主"})
    assert not registry.from_config(await registry.get("qq:1001"))
    assert await registry.load_config(config.registry) == 1  # the next start restores it
    restored = await registry.get("qq:1001")
    assert restored is not None and restored.owner == "王主任"
    await runtime.close()


def test_config_rejects_a_bad_registry_entry() -> None:
    with pytest.raises(Exception) as caught:
        parse_config({"registry": {"1001": {"name": "x"}, "qq:2": {"owner": 3, "date": "x"}}})
    text = str(caught.value)
    assert "registry.1001" in text and "not platform-qualified" in text
    assert "registry.qq:2.date: unknown key" in text


def test_parse_fields_accepts_chinese_and_english_names() -> None:
    fields = parse_fields(
        '群主=王主任 管理员=李老师,张老师 用途="教职工 通知" registered_on=2024-09-01'
    )
    assert fields == {
        "owner": "王主任",
        "admins": ("李老师", "张老师"),
        "purpose": "教职工 通知",
        "registered_on": date(2024, 9, 1),
    }
    assert parse_fields("负责人：王主任") == {"responsible": "王主任"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("颜色=红", "unknown field '颜色'"),
        ("群主", "expected field=value"),
        ("日期=明天", "bad date"),
        ('用途="未闭合', "cannot read"),
    ],
)
def test_parse_fields_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem):
        parse_fields(text)


def test_entry_text_shows_every_field() -> None:
    entry = RegistryEntry(
        "qq:1",
        name="办公室工作群",
        owner="王主任",
        admins=("李老师", "张老师"),
        updated_by=CONFIG_AUTHOR,
    )
    text = entry_text(entry)
    assert text.startswith("【群备案】办公室工作群（qq:1）\n群主：王主任\n管理员：李老师、张老师")
    assert "用途：（未填）" in text and "登记人：config" in text
    assert "Admins: 李老师, 张老师" in entry_text(entry, "en")

"""Member lists read many at once (a raid's removals verified, bans swept) share calls,
and every caller still gets a list asked for after it called."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest


class SlowLists:
    """``Accounts.call`` stand-in: each member-list call answers when released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release: list[asyncio.Future[Any]] = []

    async def call(self, bot: Any, api: str, **params: Any) -> Any:
        assert api == "get_group_member_list" and params == {"group_id": 42}
        self.calls += 1
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.release.append(answer)
        return await answer


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _accounts(list_spacing: float = 0.0) -> Any:
    from plugins.onebot_guard.accounts import Accounts  # after nonebot is initialised

    return Accounts(lambda: {}, list_spacing=list_spacing)


async def test_callers_during_a_fetch_share_the_next_one() -> None:
    accounts = _accounts()
    lists = SlowLists()
    accounts.call = lists.call
    bot: Any = SimpleNamespace(self_id="1")

    first = asyncio.create_task(accounts.member_list(bot, "42"))
    await _settle()
    assert lists.calls == 1
    # arriving while the first is in flight: they wait for it and share one more call
    later = [asyncio.create_task(accounts.member_list(bot, "42")) for _ in range(5)]
    await _settle()
    assert lists.calls == 1  # one list call in flight per group
    lists.release[0].set_result(["before"])
    assert await first == ["before"]
    await _settle()
    assert lists.calls == 2
    assert not any(t.done() for t in later)  # not given the list asked before they called
    lists.release[1].set_result(["after"])
    assert [await t for t in later] == [["after"]] * 5
    assert accounts._lists == {}  # nothing kept once idle


async def test_an_error_reaches_the_callers_that_shared_it_only() -> None:
    accounts = _accounts()
    lists = SlowLists()
    accounts.call = lists.call
    bot: Any = SimpleNamespace(self_id="1")

    a = asyncio.create_task(accounts.member_list(bot, "42"))
    b = asyncio.create_task(accounts.member_list(bot, "42"))
    await _settle()
    assert lists.calls == 1
    lists.release[0].set_exception(TimeoutError())
    for task in (a, b):
        with pytest.raises(TimeoutError):
            await task
    c = asyncio.create_task(accounts.member_list(bot, "42"))
    await _settle()
    lists.release[1].set_result([])
    assert await c == []
    assert lists.calls == 2


async def test_a_group_read_a_moment_ago_is_read_again_once_for_the_callers_meanwhile() -> None:
    accounts = _accounts(list_spacing=0.2)
    lists = SlowLists()
    accounts.call = lists.call
    bot: Any = SimpleNamespace(self_id="1")

    first = asyncio.create_task(accounts.member_list(bot, "42"))
    await _settle()
    assert lists.calls == 1  # a group not read lately is read at once
    lists.release[0].set_result(["before"])
    assert await first == ["before"]
    # removals verified one after another in the moments that follow share one read
    later = []
    for _ in range(5):
        later.append(asyncio.create_task(accounts.member_list(bot, "42")))
        await _settle()
    assert lists.calls == 1 and not any(t.done() for t in later)
    await asyncio.sleep(0.3)  # the spacing is over: the one read for them all
    assert lists.calls == 2
    lists.release[1].set_result(["after"])
    assert [await t for t in later] == [["after"]] * 5

"""A message is deleted once: a clean-up's recall of a message whose own deletion is in
flight (or done) does not delete it again; a failed deletion is tried again."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from rules.core.model import Action, ActionKind, OutcomeStatus


class FakeAccounts:
    """``Accounts`` stand-in: ``delete_msg`` answers when released (or fails once asked)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release: list[asyncio.Future[Any]] = []
        self.routes = SimpleNamespace()

    async def acting_bot(self, group: str) -> Any:
        return SimpleNamespace(self_id="10000")

    async def call(self, bot: Any, api: str, **params: Any) -> Any:
        assert api == "delete_msg"
        self.calls.append(params["message_id"])
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.release.append(answer)
        return await answer


def _actions(accounts: FakeAccounts) -> Any:
    from plugins.onebot_guard.actions import Actions  # after nonebot is initialised

    return Actions(accounts, pacer=None)  # type: ignore[arg-type]


def delete(message_id: str, group: str = "qq:42") -> Action:
    return Action(ActionKind.DELETE, group, "qq:3001", message_id=message_id)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_message_deleted_in_flight_or_before_is_not_deleted_again() -> None:
    accounts = FakeAccounts()
    actions = _actions(accounts)
    first = asyncio.create_task(actions.perform(delete("7")))
    await _settle()
    recall = asyncio.create_task(actions.perform(delete("7")))  # while the first is in flight
    await _settle()
    assert accounts.calls == [7]
    accounts.release[0].set_result(None)
    done = [await first, await recall]
    assert [o.status for o in done] == [OutcomeStatus.DONE] * 2
    assert (await actions.perform(delete("7"))).status is OutcomeStatus.DONE  # done before
    assert accounts.calls == [7]
    # another message, or the same id in another group, is deleted
    later = asyncio.create_task(actions.perform(delete("7", group="qq:43")))
    await _settle()
    assert accounts.calls == [7, 7]
    accounts.release[1].set_result(None)
    assert (await later).status is OutcomeStatus.DONE


async def test_a_failed_deletion_is_tried_again_by_the_next() -> None:
    accounts = FakeAccounts()
    actions = _actions(accounts)
    first = asyncio.create_task(actions.perform(delete("8")))
    await _settle()
    waiting = asyncio.create_task(actions.perform(delete("8")))
    await _settle()
    accounts.release[0].set_exception(TimeoutError())
    assert (await first).status is OutcomeStatus.FAILED
    await _settle()
    assert accounts.calls == [8, 8]  # the waiting one tries itself
    accounts.release[1].set_result(None)
    assert (await waiting).status is OutcomeStatus.DONE

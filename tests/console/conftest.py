"""A console over a real Runtime (SQLite file, real command service) and an HTTP client.

``plugins.console`` is imported inside functions only: the test session loads
``plugins/`` as nonebot plugins, which fails for a package imported before.

``ConsoleEnv`` seeds cases the way the engine records them (``open_case`` with
findings, strikes and outcomes), signs people in through real one-time links,
and talks to the console mounted at ``/console`` on a small FastAPI app,
through httpx's ASGI transport (no socket).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from rules.commands import Edge
from rules.config import parse_config
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    EventKind,
    Finding,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    Role,
)
from rules.core.ports import GroupInfo
from rules.runtime import MEMORY_URL, Runtime
from tests.fakes import T0, Clock, FakeDirectory, FakeGateway, message

if TYPE_CHECKING:
    from plugins.console.app import Console

GROUP_A = "qq:1001"
GROUP_B = "qq:1002"
OFFICER_A = "qq:900001"  # officer of group A only ([groups."qq:1001".escalation])
GLOBAL_OFFICER = "qq:900002"
SUPERUSER = "qq:900003"
ADMIN_A = "qq:300001"  # the platform reports this person as admin of group A
NOBODY = "qq:555555"
SPAMMER = "qq:200001"


def console_config() -> dict[str, Any]:
    return {
        "escalation": {"officers": [GLOBAL_OFFICER]},
        "commands": {"superusers": [SUPERUSER]},
        "groups": {GROUP_A: {"escalation": {"officers": [OFFICER_A]}}},
    }


@dataclass
class ConsoleEnv:
    runtime: Runtime
    console: Console
    clock: Clock
    app: FastAPI
    base_url: str
    gateway: FakeGateway = field(default_factory=FakeGateway)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("203.0.113.7", 50000)),
            base_url=self.base_url,
            headers=headers,
        )
        self.clients.append(client)
        return client

    async def link(self, person: str) -> str:
        issued = await self.console.issue_link(person, "test")
        assert issued is not None, f"{person} oversees no group"
        return issued[0]

    async def signed_in(self, person: str) -> httpx.AsyncClient:
        client = self.client()
        token = token_of(await self.link(person))
        response = await client.post("/console/login", data={"t": token})
        assert response.status_code == 303, response.text
        return client

    async def case(
        self,
        text: str = "加我微信网赌包赢",
        *,
        group: str = GROUP_A,
        member: str = SPAMMER,
        card: str = "张三+办公室",
        findings: Sequence[Finding] | None = None,
        weight: int = 2,
        ago: timedelta = timedelta(0),
        outcomes: Sequence[tuple[ActionKind, OutcomeStatus]] = (
            (ActionKind.DELETE, OutcomeStatus.DONE),
        ),
    ) -> int:
        at = self.clock() - ago
        event = message(text, user=member, group=group, card=card, at=at)
        if findings is None:
            start = text.find("网赌")
            findings = (
                [Finding("keyword", "gambling", "网赌", start, start + 2)] if start >= 0 else []
            )
        journal = self.runtime.storage.journal
        case_id = await journal.open_case(event, tuple(findings), 1, at, weight)
        done = tuple(
            Outcome(Action(kind, group, member, case_id=case_id), status, "")
            for kind, status in outcomes
        )
        await journal.record_outcomes(case_id, done, at)
        return case_id

    async def review_case(
        self, text: str = "大码女装特价", match: str = "大码", how: str = "homophone"
    ) -> tuple[int, int]:
        """A case held for review, as the engine leaves it: weak finding, no strike, an item."""
        from rules.core.model import MatchKind, OfficerTask, Strength, TaskKind

        start = text.find(match)
        finding = Finding(
            "keyword",
            "drugs",
            match,
            start,
            start + len(match),
            how=MatchKind(how),
            strength=Strength.WEAK,
        )
        case_id = await self.case(text, findings=[finding], weight=0, outcomes=())
        task_id = await self.runtime.storage.tasks.add_task(
            OfficerTask(
                TaskKind.REVIEW,
                GROUP_A,
                "",
                self.clock(),
                subject_id=SPAMMER,
                case_id=case_id,
                text=f"{match}（谐音）",
                evidence=text,
            )
        )
        return case_id, task_id

    async def role(self, person: str, group: str, role: Role) -> None:
        """The platform reports ``person`` with ``role`` in ``group`` (the members table)."""
        event = ChatEvent(
            kind=EventKind.MESSAGE,
            platform=Platform.QQ,
            group_id=group,
            member=Member(person, "王五+办公室", role=role),
            time=self.clock(),
            text="你好",
            message_id=f"r-{person}-{group}",
        )
        await self.runtime.storage.journal.note_member(event)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


async def make_env(
    settings: dict[str, Any] | None = None, base_url: str = "http://127.0.0.1:8080"
) -> ConsoleEnv:
    from plugins.console.app import Console, mount_console
    from rules.config import ConsoleSettings

    config = parse_config(console_config())
    clock = Clock(T0)
    runtime = await Runtime.start(config, MEMORY_URL, clock=clock)
    console = Console.from_runtime(runtime, ConsoleSettings.model_validate(settings or {}))
    app = FastAPI()
    mount_console(app, console)
    gateway = FakeGateway()
    directory = FakeDirectory(
        {
            GROUP_A: [Member(SPAMMER, "张三+办公室"), Member(ADMIN_A, "王五+办公室")],
            GROUP_B: [Member(SPAMMER, "张三+办公室")],
        },
        {GROUP_A: GroupInfo(GROUP_A, "川护教职工群", 160, Role.ADMIN)},
    )
    assert runtime.commands is not None
    runtime.commands.register(Platform.QQ, Edge(gateway, directory))
    return ConsoleEnv(runtime, console, clock, app, base_url, gateway)


@pytest.fixture
async def env() -> AsyncIterator[ConsoleEnv]:
    environment = await make_env()
    yield environment
    for client in environment.clients:
        await client.aclose()
    await environment.runtime.close()

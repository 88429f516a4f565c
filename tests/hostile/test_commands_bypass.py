"""Permission-bypass attempts on the commands: every one refused, audited, nothing done.

What the existing command tests (tests/rules/test_commands.py) leave open is
tried here: titles in cards and nicknames, private messages naming a group in
every spelling (raw, qualified, full-width digits, another platform's), group
officers reaching for another group, cases of other groups, injected mentions
of the bot and of admins, overlong arguments, and ``/config`` on keys that
only officers (or only the config file) may change, in every spelling.

"Nothing done" is checked on the whole state: no gateway action, no case, no
strike, no queued message, no word, no setting changed; and the attempt has
its own audit row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules.commands import CommandRequest, Edge
from rules.commands.spec import COMMANDS, Level
from rules.config import parse_config
from rules.core.model import Member, Platform, Role
from rules.runtime import MEMORY_URL, Runtime
from rules.storage.tables import audit_log, cases, group_settings, group_words, outbox, strikes
from tests.fakes import Clock, FakeDirectory, FakeGateway
from tests.hostile.strategies import INJECTION, hostile, hostile_text

GROUP_A, GROUP_B = "qq:1001", "qq:1002"
ROOM = "wechat:5001@chatroom"
BOT = "qq:100000"
GLOBAL_OFFICER, SUPERUSER = "qq:900001", "qq:900002"
OFFICER_A, OFFICER_B = "qq:910001", "qq:910002"  # officers of one group only
ALICE = Member("qq:200001", "张三+办公室")
BOB = Member("qq:200002", "李四+教务处")
ADMIN_A = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
OWNER_A = Member("qq:300002", "赵六+校办", role=Role.OWNER)
MEMBERS_A = [ALICE, BOB, ADMIN_A, OWNER_A, Member(BOT, "群卫士"), Member(OFFICER_A, "纪检+监督")]
MEMBERS_B = [Member("qq:200011", "孙七+后勤处"), Member(BOT, "群卫士")]
CONFIG = {
    "escalation": {"officers": [GLOBAL_OFFICER]},
    "commands": {"superusers": [SUPERUSER]},
    "groups": {
        GROUP_A: {"escalation": {"officers": [GLOBAL_OFFICER, OFFICER_A]}},
        GROUP_B: {"escalation": {"officers": [GLOBAL_OFFICER, OFFICER_B]}},
    },
}
MANAGER_COMMANDS = [s for s in COMMANDS if s.level >= Level.MANAGER]

# One well-formed use of each command that needs a manager, aimed at Alice.
USES = {
    "warn": "/warn {group}200001 spam",
    "mute": "/mute {group}200001 10m",
    "unmute": "/unmute {group}200001",
    "kick": "/kick {group}200001",
    "pardon": "/pardon {group}200001",
    "uphold": "/uphold #{case}",
    "strikes": "/strikes {group}200001",
    "audit": "/audit {group}",
    "words": "/words {group}add 广告 新词",
    "allow": "/allow {group}add 白名单词",
    "config": "/config {group}set flood.repeat 9",
    "dryrun": "/dryrun {group}on",
    "stats": "/stats {group}",
    "ban": "/ban {group}200001 spam",
    "muteall": "/muteall {group}on",
    "cardhistory": "/cardhistory {group}200001",
}


def use(key: str, group: str = "", case: int = 1) -> str:
    text = USES[key].format(group=f"{group} " if group else "", case=case)
    return text.rstrip()


@dataclass
class Env:
    runtime: Runtime
    gateway: FakeGateway
    clock: Clock
    case_b: int  # a case in group B

    async def state(self) -> tuple[object, ...]:
        """Everything a command could change, in one query (and the settings)."""
        tables = (cases, strikes, outbox, group_words, group_settings, audit_log)
        counts = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
        async with self.runtime.storage.database.engine.connect() as conn:
            row = (await conn.execute(select(*counts))).one()
        overrides = {g: self.runtime.config.runtime_overrides(g) for g in (GROUP_A, GROUP_B, ROOM)}
        return (len(self.gateway.performed), *row, repr(overrides))

    async def attempt(
        self,
        text: str,
        caller: Member,
        group: str | None = None,
        mentions: tuple[str, ...] = (),
        platform: Platform = Platform.QQ,
    ) -> tuple[str, str]:
        """Run a command that must not do anything; return (reply, audited outcome)."""
        before = await self.state()
        self.clock.advance(timedelta(seconds=1))
        service = self.runtime.commands
        assert service is not None
        reply = await service.handle(
            CommandRequest(
                platform=platform,
                caller=caller,
                text=text,
                time=self.clock(),
                group_id=group,
                mentions=mentions,
                bot_id=BOT,
            )
        )
        assert reply is not None, f"{text!r} was not taken as a command"
        after = await self.state()
        assert after[:-2] == before[:-2] and after[-1] == before[-1], f"{text!r} did something"
        assert after[-2] == before[-2] + 1, f"{text!r} was not audited"  # audit_log rows
        async with self.runtime.storage.database.engine.connect() as conn:
            row = (
                await conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1))
            ).one()
        assert row.actor_id == caller.id
        return reply, row.outcome


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[Env]:
    from tests.fakes import message

    clock = Clock()
    runtime = await Runtime.start(parse_config(CONFIG), MEMORY_URL, clock=clock)
    gateway = FakeGateway()
    directory = FakeDirectory({GROUP_A: MEMBERS_A, GROUP_B: MEMBERS_B, ROOM: []})
    assert runtime.commands is not None
    runtime.commands.register(Platform.QQ, Edge(gateway, directory))
    runtime.commands.register(Platform.WECHAT, Edge(FakeGateway(Platform.WECHAT), directory))
    case_b = await runtime.storage.journal.open_case(
        message("x", user="qq:200011", group=GROUP_B), (), 0, clock()
    )
    yield Env(runtime, gateway, clock, case_b)
    await runtime.close()


def refused(outcome: str) -> bool:
    return outcome.startswith("refused")


# ---------------------------------------------------------------- titles in cards and names

titles = st.one_of(
    st.sampled_from(
        [
            "群主",
            "管理员",
            "admin",
            "owner",
            "officer",
            "负责人",
            "群卫士",
            "superuser",
            "qq:900001",
            "900001",
            "王五+办公室",
            "纪检+监督",
            "[CQ:at,qq=all]",
            "&#91;CQ:at,qq=900001&#93;",
        ]
    ),
    st.sampled_from(INJECTION),
    hostile_text(max_pieces=4),
)


@hostile(40)
@given(card=titles, nickname=titles, key=st.sampled_from(sorted(USES)))
async def test_a_card_or_nickname_is_no_title(env: Env, card: str, nickname: str, key: str) -> None:
    impostor = Member("qq:200009", card=card, nickname=nickname)  # a plain member
    reply, outcome = await env.attempt(use(key, case=env.case_b), impostor, GROUP_A)
    assert refused(outcome) or key == "uphold", (reply, outcome)  # uphold: case unknown here


async def test_a_card_gives_no_protection_either(env: Env) -> None:
    """An admin may act on a member whose card claims a title (the control case)."""
    service = env.runtime.commands
    assert service is not None
    before = len(env.gateway.performed)
    reply = await service.handle(
        CommandRequest(
            platform=Platform.QQ,
            caller=ADMIN_A,
            text="/warn 200002 test",
            time=env.clock(),
            group_id=GROUP_A,
            bot_id=BOT,
        )
    )
    assert reply == "" and len(env.gateway.performed) == before + 1


# ---------------------------------------------------------------- private messages naming a group

SPELLINGS = ["1001", "qq:1001", "１００１", "qq:１００１", "1001@chatroom", "wechat:1001",
             "5001@chatroom", ROOM, "QQ:1001", "qq:1001\u200b", "qq:01001", "qq:-1001"]  # fmt: skip
NOT_OFFICERS = [ALICE, ADMIN_A, OWNER_A, Member("qq:200009", "负责人+纪检"), Member(BOT)]
# The group argument is read (and the caller judged) before any command runs: a few suffice.
GROUP_COMMANDS = ["warn", "mute", "kick", "pardon", "words", "config", "dryrun"]


@pytest.mark.parametrize("caller", [ALICE, OWNER_A], ids=["member", "owner"])
async def test_private_messages_from_non_officers_command_no_group(
    env: Env, caller: Member
) -> None:
    for key in GROUP_COMMANDS:
        for group in SPELLINGS:
            platform = Platform.WECHAT if "chatroom" in group else Platform.QQ
            reply, outcome = await env.attempt(use(key, group), caller, platform=platform)
            assert refused(outcome) or outcome.startswith("error: "), (group, reply, outcome)


@pytest.mark.parametrize("caller", NOT_OFFICERS, ids=lambda m: m.card or m.id)
async def test_a_private_message_claiming_a_role_is_still_private(env: Env, caller: Member) -> None:
    """In a private message the caller's role counts for nothing, even if an edge passed one."""
    claimed = Member(caller.id, caller.card, role=Role.OWNER)
    reply, outcome = await env.attempt(use("mute", "1001"), claimed)
    assert refused(outcome), reply


# ---------------------------------------------------------------- officers of one group


@pytest.mark.parametrize("key", sorted(set(USES) - {"uphold"}))
@pytest.mark.parametrize("group", ["1002", "qq:1002", "１００２", ROOM, "5001@chatroom"])
async def test_an_officer_of_one_group_cannot_command_another(
    env: Env, key: str, group: str
) -> None:
    platform = Platform.WECHAT if "chatroom" in group else Platform.QQ
    reply, outcome = await env.attempt(use(key, group), Member(OFFICER_A), platform=platform)
    assert refused(outcome), (reply, outcome)


async def test_cases_of_other_groups(env: Env) -> None:
    case = env.case_b
    for text in (
        f"/uphold #{case}",
        f"/pardon #{case}",
        f"/赦免 案件{case}",
        f"/uphold case{case}",
    ):
        # from group A, by its admin and by its own officer: another group's case does not exist
        for caller in (ADMIN_A, OWNER_A, Member(OFFICER_A)):
            reply, outcome = await env.attempt(text, caller, GROUP_A)
            assert reply == f"没有案件 #{case}。" and outcome.startswith("error"), reply
        # by private message, group A's officer is no officer of the case's group
        reply, outcome = await env.attempt(text, Member(OFFICER_A))
        assert refused(outcome), reply
    # and nobody appeals another member's case
    reply, outcome = await env.attempt(f"/appeal #{case} 不是我", ALICE)
    assert refused(outcome), reply


# ---------------------------------------------------------------- mentions


@pytest.mark.parametrize("key", ["warn", "mute", "kick"])
@pytest.mark.parametrize("target", [BOT, ADMIN_A.id, OWNER_A.id, OFFICER_A, GLOBAL_OFFICER])
async def test_injected_mentions_of_the_bot_or_admins(env: Env, key: str, target: str) -> None:
    command = use(key).replace("200001", "").replace("  ", " ")
    # a member mentioning an admin gains nothing
    reply, outcome = await env.attempt(command, ALICE, GROUP_A, mentions=(target,))
    assert refused(outcome), reply
    # an admin cannot turn the command on the bot, an admin or an officer
    name = next((m.card for m in MEMBERS_A if m.id == target), target.split(":")[1])
    for text, mentions in ((command, (target,)), (f"{command} {name}", (BOT,))):
        reply, outcome = await env.attempt(text, OWNER_A, GROUP_A, mentions=mentions)
        assert refused(outcome) or outcome.startswith("error"), (text, reply)


# ---------------------------------------------------------------- overlong arguments


@pytest.mark.parametrize("key", sorted(USES))
async def test_overlong_arguments(env: Env, key: str) -> None:
    long_text = use(key, "1" * 5000) + " " + "字" * 100_000
    for caller, group in ((ALICE, GROUP_A), (ALICE, None), (ADMIN_A, None)):
        reply, outcome = await env.attempt(long_text, caller, group)
        assert refused(outcome) or outcome.startswith("error"), reply
        assert len(reply) < 1000
    async with env.runtime.storage.database.engine.connect() as conn:
        longest = (await conn.execute(select(func.max(func.length(audit_log.c.command))))).scalar()
    assert longest is not None and longest <= 300


# ---------------------------------------------------------------- restricted settings

RESTRICTED = [
    "escalation.officers []",
    'escalation.officers ["qq:200001"]',
    "escalation.officers qq:200001",
    "escalation.batch_window 1d",
    "Escalation.Officers []",
    "escalation..officers []",
    ".escalation.officers []",
    "ESCALATION.OFFICERS qq:200001,qq:200002",
    'moderation.exempt_ids ["qq:200001"]',
    "moderation.exempt_ids qq:200001",
    'moderation.exempt_roles ["member"]',
    "moderation.exempt_roles member",
    "Moderation.Exempt_Roles member",
    'keywords.files ["/etc/*"]',
    "keywords.files /etc/passwd",
    "nickname.audit_every 1s",
    "escalation {officers=[]}",
    'moderation {exempt_ids=["qq:200001"]}',
    'groups."qq:1001".escalation.officers []',
    "server.host 0.0.0.0",
    "onebot.access_token x",
    "database.url sqlite+aiosqlite:///x.db",
    "commands.superusers qq:200001",
    "flood.repeat 4 escalation.officers = []",
    "ｅｓｃａｌａｔｉｏｎ.officers []",
    "escalation.officers\u200b []",
]


@pytest.mark.parametrize("setting", RESTRICTED)
@pytest.mark.parametrize("caller", [ADMIN_A, OWNER_A], ids=["admin", "owner"])
async def test_admins_cannot_set_restricted_or_global_keys(
    env: Env, setting: str, caller: Member
) -> None:
    for verb in ("set", "设置"):
        reply, outcome = await env.attempt(f"/config {verb} {setting}", caller, GROUP_A)
        assert refused(outcome) or outcome.startswith("error"), reply
    key = setting.split(" ")[0]
    reply, outcome = await env.attempt(f"/config unset {key}", caller, GROUP_A)
    assert refused(outcome) or outcome.startswith("error"), reply
    policy = env.runtime.config.policy_for(GROUP_A)
    assert policy.escalation.officers == [GLOBAL_OFFICER, OFFICER_A]
    assert policy.moderation.exempt_ids == [] and policy.keywords.files == ["data/keywords/*.txt"]


async def test_global_keys_stay_global_even_for_officers(env: Env) -> None:
    for setting in ("keywords.files /etc/passwd", "nickname.audit_every 1s", "server.port 1"):
        reply, outcome = await env.attempt(f"/config set {setting}", Member(OFFICER_A), GROUP_A)
        assert outcome.startswith("error"), reply

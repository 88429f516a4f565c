"""The officers' daily digest over a seeded week: real SQLite store, real engine, fixed clock.

The week (2026-11-02 .. 11-08, digest at 08:00 Shanghai on 11-09) is built by
running messages through the engine on the days they happened, so cases,
actions, strikes and escalations are recorded exactly as in production; the
card timeline, the appeal and the registry are written through their stores.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import insert, select

from rules.config import ConfigError, DigestSettings, parse_config
from rules.core.model import ActionKind, Decision, Platform, Role
from rules.core.ports import GroupInfo
from rules.core.records import FailedAction
from rules.groups.registry import RegistryEntry, RegistryService
from rules.moderation.engine import Engine
from rules.officers.chart import MAX_SERIES, chart_legend, digest_chart
from rules.officers.digest import (
    DAYS,
    Digest,
    GroupDigest,
    build_group_digests,
    digest_slot,
    officers_of,
    platform_groups,
)
from rules.officers.digest_text import render_digest
from rules.officers.outbox import MAX_CHARS, OutboxSender
from rules.runtime import Runtime
from rules.storage import Storage
from rules.storage.tables import outbox, tasks
from tests.fakes import (
    FakeDirectoryGateway,
    FakeGateway,
    FakeMediaGateway,
    WordListDetector,
    message,
)

SLOT = datetime(2026, 11, 9, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, the digest time
NOW = SLOT + timedelta(hours=1)
DAY = timedelta(days=1)
WEEK_START = SLOT - DAYS * DAY
OFFICER, WX_OFFICER = "qq:90001", "wechat:wxid_o"
OFFICE, FINANCE, IDLE, SUPPORT, OFF = "qq:1001", "qq:1002", "qq:1003", "qq:1005", "qq:1004"
ROOM = "wechat:r1@chatroom"
WORDS = {"测试脏话": "insult", "测试赌局": "gambling"}

CONFIG = {
    "escalation": {"officers": [OFFICER], "immediate_from": "high"},
    "ladder": {
        "steps": ["warn", "mute 10m", "kick"],
        "escalate_from_step": 2,
        "escalate_severity": "high",
        "severity": {"insult": "medium", "gambling": "high"},
    },
    "groups": {
        ROOM: {"escalation": {"officers": [WX_OFFICER]}, "moderation": {"language": "en"}},
        OFF: {"digest": {"enabled": False}},
    },
}


def day(n: int, hours: int = 3) -> datetime:
    """A time on chart day ``n`` (0 = the oldest, DAYS - 1 = the digest's own day)."""
    return WEEK_START + n * DAY + timedelta(hours=hours)


class Seeded:
    def __init__(self, runtime: Runtime, qq: FakeDirectoryGateway, wx: FakeDirectoryGateway):
        self.runtime = runtime
        self.storage: Storage = runtime.storage
        self.qq = qq
        self.wx = wx
        self.decisions: dict[str, Decision] = {}


async def seed() -> Seeded:
    config = parse_config(CONFIG)
    storage = await Storage.open("sqlite+aiosqlite://")
    engine = Engine(config, [WordListDetector(WORDS)], storage.journal, clock=lambda: NOW)  # type: ignore[list-item]
    qq = FakeDirectoryGateway(
        groups={
            OFFICE: GroupInfo(OFFICE, "办公室工作群", 160, Role.ADMIN),
            FINANCE: GroupInfo(FINANCE, "财务群", 20, Role.ADMIN),
            IDLE: GroupInfo(IDLE, "", 5, Role.ADMIN),
            SUPPORT: GroupInfo(SUPPORT, "后勤群", 12, Role.ADMIN),
            OFF: GroupInfo(OFF, "关闭日报的群", 300, Role.ADMIN),
        }
    )
    wx = FakeDirectoryGateway(
        platform=Platform.WECHAT, groups={ROOM: GroupInfo(ROOM, "Project room", 30, Role.OWNER)}
    )
    runtime = Runtime(config, storage, engine, gateways={Platform.QQ: qq, Platform.WECHAT: wx})
    seeded = Seeded(runtime, qq, wx)
    mute_fails = FakeGateway(fail={ActionKind.MUTE})

    async def say(name: str, text: str, user: str, group: str, at: datetime, **kw: object) -> None:
        event = message(text, user=user, group=group, at=at, card=f"{name}+办公室")
        seeded.decisions[name] = await engine.handle(event, kw.get("gateway", qq))  # type: ignore[arg-type]

    # 办公室工作群: one insult on days 0 and 5, two on day 2; on the digest's day a member
    # insults twice (the second reaches step 2: escalated, medium -> held for the digest)
    # and another gambles (high: reported at once; the mute fails).
    await say("甲", "测试脏话", "qq:2001", OFFICE, day(0))
    await say("乙", "测试脏话", "qq:2002", OFFICE, day(2))
    await say("丙", "测试脏话", "qq:2003", OFFICE, day(2, 5))
    await say("丁", "测试脏话", "qq:2004", OFFICE, day(5))
    await say("戊1", "你测试脏话", "qq:2005", OFFICE, day(6, 1))
    await say("戊2", "又测试脏话", "qq:2005", OFFICE, day(6, 2))
    await say("己", "测试赌局", "qq:2006", OFFICE, day(6, 4), gateway=mute_fails)
    # 财务群: one insult on day 3, appealed; a member still fixing an empty card
    await say("庚", "测试脏话", "qq:2007", FINANCE, day(3))
    async with storage.database.write() as conn:
        await conn.execute(
            insert(tasks).values(
                kind="appeal",
                group_id=FINANCE,
                case_id=seeded.decisions["庚"].case_id,
                requester_id="qq:2007",
                subject_id="qq:2007",
                text="我没有骂人",
                evidence="",
                status="open",
                created_at=NOW - timedelta(hours=3),
            )
        )
    await storage.journal.note_member(
        message("", user="qq:2008", group=FINANCE, card="", at=NOW - DAY)
    )
    await storage.compliance.flag_member(FINANCE, "qq:2008", "群名片为空", NOW - DAY)
    # an idle group (last message 40 days ago), a quiet one, one without digests
    await storage.journal.note_member(message("早", user="qq:2009", group=IDLE, at=SLOT - 40 * DAY))
    await storage.journal.note_member(
        message("收到", user="qq:2010", group=SUPPORT, at=NOW - 2 * DAY)
    )
    await say("辛", "测试脏话", "qq:2011", OFF, day(6))
    # the WeChat room (English, its own officer): gambling on the digest's day
    await say("Bob", "测试赌局", "wechat:wxid_b", ROOM, day(6), gateway=wx)

    registry = RegistryService(storage.registry, clock=lambda: NOW)
    for group_id in (OFFICE, FINANCE, SUPPORT, ROOM):
        name = qq.groups[group_id].name if group_id in qq.groups else wx.groups[group_id].name
        await registry.set(RegistryEntry(group_id, name=name, responsible="王主任"), OFFICER)
    return seeded


@pytest.fixture
async def seeded() -> Seeded:
    return await seed()


async def test_group_digests_count_the_seeded_week(seeded: Seeded) -> None:
    storage, config = seeded.storage, seeded.runtime.config
    info = await platform_groups(seeded.runtime.gateways.values())
    groups = [OFFICE, FINANCE, IDLE, SUPPORT]
    registry = {e.group_id: e for e in await storage.registry.list_registry()}
    digests = await build_group_digests(
        storage.digest, config, groups, SLOT - DAY, SLOT, info=info, registry=registry
    )

    office = digests[OFFICE]
    assert office.name == "办公室工作群"
    assert office.per_day == (1, 0, 2, 0, 0, 1, 3)
    assert office.cases == 3
    assert dict(office.categories) == {"insult": 2, "gambling": 1}
    # every case: delete + warn; 戊2's mute worked, 己's failed; 戊2 and 己 escalated
    assert dict(office.actions) == {"delete": 3, "warn": 3, "mute": 1, "escalate": 2}
    [failed] = office.failed
    assert (failed.kind, failed.member_id, failed.case_id) == (
        "mute",
        "qq:2006",
        seeded.decisions["己"].case_id,
    )
    assert (office.member_count, office.over_cap) == (160, 150)
    assert office.idle_days is None and office.registered

    finance = digests[FINANCE]
    assert finance.per_day == (0, 0, 0, 1, 0, 0, 0) and finance.cases == 0
    assert [t.member_id for t in finance.in_grace] == ["qq:2008"]
    assert [a.case_id for a in finance.appeals] == [seeded.decisions["庚"].case_id]
    assert finance.notable and finance.over_cap is None

    idle = digests[IDLE]
    assert (idle.idle_days, idle.registered, idle.cases) == (40, False, 0)
    assert not digests[SUPPORT].notable


def test_officers_see_their_groups_with_digests_on() -> None:
    config = parse_config(CONFIG)
    assert officers_of(config, [OFFICE, OFF, ROOM, FINANCE]) == {
        OFFICER: [OFFICE, FINANCE],
        WX_OFFICER: [ROOM],
    }


async def test_send_digests_queues_one_digest_per_officer_and_day(seeded: Seeded) -> None:
    storage = seeded.storage
    held_before = await storage.outbox.held_reports(OFFICER)
    assert [h.case_id for h in held_before] == [seeded.decisions["戊2"].case_id]
    assert all(
        item.case_id != held_before[0].case_id for item in await storage.outbox.due_reports(NOW)
    )

    assert await seeded.runtime.digest().run(NOW) == 2
    assert await seeded.runtime.digest().run(NOW + timedelta(hours=5)) == 0  # same day again

    due = await storage.outbox.due_reports(NOW)
    digests = {item.officer_id: item for item in due if item.kind == "digest"}
    assert set(digests) == {OFFICER, WX_OFFICER}
    assert await storage.outbox.held_reports(OFFICER) == []  # folded into the digest
    text = digests[OFFICER].text
    assert text.startswith("【群卫士日报】2026年11月9日\n统计时段：11-08 08:00 至 11-09 08:00")
    assert "共4个群：违规3起，处理失败1项，名片待整改1人，待处理申诉1件" in text
    assert "未备案的群（1）：qq:1003" in text
    assert "■ 办公室工作群（qq:1001）〔图A〕\n违规3起：辱骂攻击2、赌博1\n" in text
    assert "撤回3" in text and "禁言1" in text and "上报2" in text
    assert f"· 案件#{seeded.decisions['己'].case_id} 禁言 己+办公室（qq:2006）" in text
    assert "群人数160，超过150人上限" in text
    assert "■ 财务群（qq:1002）〔图B〕\n名片待整改1人：\n· qq:2008，11-11 09:00前" in text
    assert f"· 申诉#1（案件#{seeded.decisions['庚'].case_id}）qq:2007" in text
    assert "■ qq:1003\n已40天无人发言" in text
    assert "其余1个群无违规、无待办：后勤群" in text
    held_case = seeded.decisions["戊2"].case_id
    held = f"· 案件#{held_case} 办公室工作群 戊2+办公室（qq:2005）：辱骂攻击，11-08 10:00"
    assert f"待阅上报1条（级别较低，未即时发送）：\n{held}" in text
    assert text.endswith("附图：近7天每日违规数（A=办公室工作群、B=财务群）")
    assert "关闭日报的群" not in text and "Project room" not in text
    assert digests[OFFICER].image is not None

    english = digests[WX_OFFICER].text
    assert english.startswith("[GroupGuard daily digest] 2026-11-09\nPeriod: 11-08 08:00")
    assert "■ Project room (wechat:r1@chatroom) [chart A]\n1 violation(s): gambling 1" in english


async def test_digest_delivery_sends_text_then_chart(seeded: Seeded) -> None:
    await seeded.runtime.digest().run(NOW)
    sender = OutboxSender(seeded.storage.outbox, seeded.runtime.gateways, clock=lambda: NOW)
    await sender.flush()
    texts = [text for officer, text in seeded.qq.private if officer == OFFICER]
    digest = [t for t in texts if t.startswith("【群卫士日报】")]
    assert len(digest) == 1 and "【群卫士上报】" not in digest[0]  # never coalesced with reports
    [(officer, png)] = seeded.qq.images
    assert officer == OFFICER and png.startswith(b"\x89PNG\r\n\x1a\n")
    async with seeded.storage.database.engine.connect() as conn:
        kept = (await conn.execute(select(outbox.c.image).where(outbox.c.kind == "digest"))).all()
    assert all(row.image is None for row in kept)  # images are not kept once sent


async def test_a_failed_image_does_not_resend_the_digest() -> None:
    storage = await Storage.open("sqlite+aiosqlite://")
    gateway = FakeMediaGateway(media_fails=True)
    await storage.outbox.enqueue_digest(OFFICER, [("digest", b"\x89PNG...")], [], "k", NOW)
    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock=lambda: NOW)
    assert await sender.flush() == 1
    assert await sender.flush() == 0
    assert gateway.private == [(OFFICER, "digest")] and gateway.images == []


async def test_a_text_only_platform_gets_no_chart(seeded: Seeded) -> None:
    text_only = FakeGateway()
    seeded.runtime.gateways[Platform.QQ] = text_only
    await seeded.runtime.digest().run(NOW)
    [item] = [i for i in await seeded.storage.outbox.due_reports(NOW) if i.officer_id == OFFICER]
    assert item.kind == "digest" and item.image is None
    assert "附图" not in item.text and "〔图" not in item.text
    # without the platform's group list: the store's groups, named as registered, no size
    assert "■ 办公室工作群（qq:1001）" in item.text and "群人数" not in item.text
    assert "■ qq:1003\n已40天无人发言" in item.text


async def test_quiet_digest_is_skipped_when_configured() -> None:
    config = parse_config(
        {"escalation": {"officers": [OFFICER]}, "digest": {"send_when_quiet": False}}
    )
    storage = await Storage.open("sqlite+aiosqlite://")
    runtime = Runtime(config, storage, Engine(config, [], storage.journal))
    await storage.journal.note_member(message("收到", group=SUPPORT, at=NOW - DAY))
    await RegistryService(storage.registry).set(RegistryEntry(SUPPORT), "qq:1")
    assert await runtime.digest().run(NOW) == 0
    loud = Runtime(parse_config({"escalation": {"officers": [OFFICER]}}), storage, runtime.engine)
    assert await loud.digest().run(NOW) == 1
    [item] = await storage.outbox.due_reports(NOW)
    assert "过去一天没有需要处理的事项。" in item.text


async def test_held_reports_of_an_officer_without_digest_are_released() -> None:
    storage = await Storage.open("sqlite+aiosqlite://")
    await storage.journal.enqueue_report("qq:777", "old report", None, NOW - DAY, held=True)
    assert await storage.outbox.due_reports(NOW) == []
    assert await storage.outbox.release_held({OFFICER}, NOW) == 1
    [item] = await storage.outbox.due_reports(NOW)
    assert (item.officer_id, item.kind, item.text) == ("qq:777", "report", "old report")


def _group(n: int, per_day: tuple[int, ...]) -> GroupDigest:
    return GroupDigest(f"qq:{n}", f"群{n}", "zh", per_day=per_day, cases=per_day[-1])


def _digest(groups: list[GroupDigest]) -> Digest:
    return Digest(OFFICER, SLOT - DAY, SLOT, "Asia/Shanghai", "zh", tuple(groups))


def test_chart_is_a_png_of_phone_size() -> None:
    digest = _digest([_group(1, (1, 0, 2, 0, 0, 1, 3)), _group(2, (0, 0, 0, 1, 0, 0, 0))])
    chart = digest_chart(digest)
    assert chart is not None
    image = Image.open(io.BytesIO(chart.png))
    assert image.format == "PNG" and image.size == (800, 450)
    assert chart.legend.letters == {"qq:1": "A", "qq:2": "B"}


def test_chart_groups_beyond_the_busiest_share_one_letter() -> None:
    groups = [_group(n, (0,) * (DAYS - 1) + (n,)) for n in range(1, MAX_SERIES + 3)]
    legend = chart_legend(_digest([*groups, _group(99, (0,) * DAYS)]))
    assert legend is not None
    busiest = [g.group_id for g in reversed(groups)]
    assert list(legend.letters) == busiest[: MAX_SERIES - 1]
    assert set(legend.others) == set(busiest[MAX_SERIES - 1 :])
    assert legend.others_letter == "ABCDEF"[MAX_SERIES - 1]
    assert chart_legend(_digest([_group(99, (0,) * DAYS)])) is None
    assert digest_chart(_digest([_group(99, (0,) * DAYS)])) is None


def test_long_digest_is_split_between_groups() -> None:
    groups = [_group(n, (0,) * (DAYS - 1) + (1,)) for n in range(200)]
    groups = [replace(g, categories=(("insult", 1),), idle_days=31) for g in groups]
    parts = render_digest(_digest(groups))
    assert len(parts) > 1 and all(len(p) <= MAX_CHARS for p in parts)
    assert parts[1].startswith("【群卫士日报】2026年11月9日（续2）")
    assert sum(p.count("■ ") for p in parts) == 200


@pytest.mark.parametrize(
    ("now", "time", "slot"),
    [
        (datetime(2026, 11, 9, 1, 0, tzinfo=UTC), "08:00", datetime(2026, 11, 9, 0, 0, tzinfo=UTC)),
        (
            datetime(2026, 11, 8, 23, 59, tzinfo=UTC),
            "08:00",
            datetime(2026, 11, 8, 0, 0, tzinfo=UTC),
        ),
        (datetime(2026, 11, 9, 0, 0, tzinfo=UTC), "08:00", datetime(2026, 11, 9, 0, 0, tzinfo=UTC)),
        (
            datetime(2026, 11, 9, 15, 0, tzinfo=UTC),
            "23:30",
            datetime(2026, 11, 8, 15, 30, tzinfo=UTC),
        ),
    ],
)
def test_digest_slot_is_the_latest_time_at_or_before_now(
    now: datetime, time: str, slot: datetime
) -> None:
    assert digest_slot(now, DigestSettings(time=time)) == slot


def test_long_lists_stop_after_a_few_lines_with_a_count() -> None:
    failed = tuple(
        FailedAction("qq:1", n, f"qq:{n}", "", "kick", "refused", SLOT - timedelta(hours=n))
        for n in range(1, 9)
    )
    [text] = render_digest(_digest([replace(_group(1, (0,) * DAYS), failed=failed)]))
    lines = text.splitlines()
    start = lines.index("处理失败8项：")
    assert lines[start + 1 : start + 6] == [
        "· 案件#1 移出 qq:1：refused",
        "· 案件#2 移出 qq:2：refused",
        "· 案件#3 移出 qq:3：refused",
        "· 案件#4 移出 qq:4：refused",
        "· …另有4项",
    ]


def test_digest_time_is_global_only_and_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "digest": {"time": "25:00"},
                "groups": {"qq:1": {"digest": {"time": "09:00", "idle_days": 7}}},
            }
        )
    assert caught.value.problems == ["digest.time: bad time of day '25:00' (use e.g. '08:00')"]
    with pytest.raises(ConfigError) as caught:
        parse_config({"groups": {"qq:1": {"digest": {"time": "09:00", "idle_days": 7}}}})
    assert caught.value.problems == ['groups."qq:1".digest.time: can only be set globally']
    config = parse_config(
        {"digest": {"time": "7:05"}, "groups": {"qq:1": {"digest": {"idle_days": 7}}}}
    )
    assert config.digest.hour_minute() == (7, 5)
    assert config.policy_for("qq:1").digest.idle_days == 7

"""Protection across groups on WeChat: the real python-wechaty client against the fake puppet.

WeChat differs from QQ where it matters here: the bot cannot recall other
people's messages (the officers' report says so), there is no whole-group mute
(the raid alert says so), and there are no join requests (a banned member who
joins by invitation is removed again).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rules.core.model import ActionKind, EventKind, utcnow
from rules.officers.outbox import OutboxSender
from tests.plugins.wechaty.conftest import (
    BANNED,
    OFFICER,
    close_service,
    start_service,
    wechat_config,
)
from tests.plugins.wechaty.fake_puppet import FakePuppetService

if TYPE_CHECKING:
    from plugins.wechaty_guard.service import WechatService

A, B, C, D, E = (f"3000{i}@chatroom" for i in range(1, 6))
SPAMMER = "wxid_spammer"


async def flush(service: WechatService) -> None:
    """Deliver the queued officer reports now (past their batch window)."""
    later = utcnow() + timedelta(minutes=5)
    sender = OutboxSender(
        service.runtime.storage.outbox, service.runtime.gateways, clock=lambda: later
    )
    await sender.flush()


def officer_texts(fake: FakePuppetService) -> list[str]:
    return [s.text for s in fake.texts_to(OFFICER)]


async def start(fake: FakePuppetService, tmp_path: Path, **protection: object) -> WechatService:
    config = wechat_config(
        tmp_path,
        fake.endpoint,
        ladder={"steps": ["warn", "kick"], "severity": {"testbad": "critical"}},
        links={"allow_domains": ["edu.cn"]},
        protection=protection,
    )
    service = await start_service(config)
    assert await service.supervisor.wait_connected(3)
    assert service.runtime.protection is not None
    return service


async def test_ban_sweeps_the_other_rooms_and_removes_a_rejoin(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    fake.add_contact(SPAMMER, "广告哥")
    for room in (A, B, C):
        fake.add_room(room, f"工作群{room[:5]}", {SPAMMER: "张三+办公室", "wxid_m": "李四"})
    fake.add_room(D, "工作群D", {"wxid_m": "李四"})
    service = await start(fake, tmp_path)
    protection = service.runtime.protection
    assert protection is not None
    try:
        for n in range(3):
            fake.post_text(A, SPAMMER, f"大家好{n}")
        await fake.wait_until(lambda: service.bridge.events_handled == 3)
        fake.post_text(A, SPAMMER, f"来玩{BANNED}")
        await fake.wait_until(lambda: (A, SPAMMER) in fake.removed)
        await fake.wait_until(lambda: {(B, SPAMMER), (C, SPAMMER)} <= set(fake.removed))
        await protection.idle()
        assert sorted(r for r, m in fake.removed if m == SPAMMER) == [A, B, C]
        (ban,) = await protection.bans()
        assert ban.accounts == (f"wechat:{SPAMMER}",)

        await flush(service)
        await fake.wait_until(lambda: any("封禁名单 #" in t for t in officer_texts(fake)))
        (report,) = [t for t in officer_texts(fake) if "封禁名单 #" in t]
        assert f"wechat:{B}：已移出" in report and f"wechat:{C}：已移出" in report
        # WeChat cannot recall other people's messages: the report says so
        assert "微信不能撤回他人的消息" in report and "3条消息" in report

        # invited into D later: removed again, and the officer told at once
        fake.join(D, SPAMMER, "广告哥")
        await fake.wait_until(lambda: (D, SPAMMER) in fake.removed)
        await protection.idle()
        await flush(service)
        await fake.wait_until(lambda: any("加入了" in t for t in officer_texts(fake)))
    finally:
        await close_service(service)


async def test_raid_of_twenty_joins_is_alerted_and_lifted(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    fake.add_room(E, "家长群", {"wxid_m": "李四妈妈"})
    service = await start(fake, tmp_path, raid={"joins": 20, "window": "10s", "duration": "1s"})
    protection = service.runtime.protection
    assert protection is not None
    try:
        for i in range(20):
            fake.join(E, f"wxid_raider{i}", f"新号{i}")
        await fake.wait_until(lambda: protection.raids.under_raid(f"wechat:{E}"))
        await protection.idle()
        await flush(service)
        await fake.wait_until(lambda: any("批量入群" in t for t in officer_texts(fake)))
        (alert,) = [t for t in officer_texts(fake) if "批量入群" in t]
        assert "20人入群" in alert and "本平台不能全员禁言" in alert
        # lifted after its duration (1 s), with a report
        await fake.wait_until(lambda: not protection.raids.under_raid(f"wechat:{E}"), within=10)
        await protection.idle()
        await flush(service)
        await fake.wait_until(lambda: any("防护已解除" in t for t in officer_texts(fake)))
    finally:
        await close_service(service)


async def test_probation_member_s_first_link_is_acted_on(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    fake.add_room(A, "工作群", {"wxid_old": "老人+办公室"})
    service = await start(fake, tmp_path)
    try:
        fake.post_text(A, "wxid_old", "报名 http://x.edu.cn/a")  # an old member: allowed
        await fake.wait_until(lambda: service.bridge.events_handled == 1)
        assert service.decisions[-1].findings == ()
        fake.join(A, "wxid_new", "新人", "新人+办公室")
        await fake.wait_until(lambda: any(e.kind is EventKind.JOIN for e in service.events))
        fake.post_text(A, "wxid_new", "报名 http://x.edu.cn/a")
        await fake.wait_until(lambda: any(d.findings for d in service.decisions))
        decision = next(d for d in service.decisions if d.findings)
        assert [f.category for f in decision.findings] == ["link"]
        # WeChat cannot delete it: recorded as skipped, and the member is warned
        kinds = [o.action.kind for o in decision.outcomes]
        assert ActionKind.DELETE in kinds and ActionKind.WARN in kinds
        await fake.wait_until(lambda: len(fake.texts_to(A)) == 1)
    finally:
        await close_service(service)

"""The console's 群组 (groups) page: size and name checks, the bot's role, registration
edited through /备案, and the members on a card timeline."""

from __future__ import annotations

import re
from datetime import timedelta

from rules.core.model import Role
from tests.console.conftest import ADMIN_A, GROUP_A, GROUP_B, OFFICER_A, SPAMMER, ConsoleEnv


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


async def test_the_group_list_shows_size_role_registration_and_cards(env: ConsoleEnv) -> None:
    await env.runtime.storage.digest.note_groups({GROUP_A: "川护教职工群"}, env.clock())
    await env.role(SPAMMER, GROUP_A, Role.MEMBER)
    await env.runtime.storage.compliance.flag_member(
        GROUP_A, SPAMMER, "缺少部门", env.clock() - timedelta(days=3)
    )
    client = await env.signed_in(OFFICER_A)
    html = (await client.get("/console/groups")).text
    assert "川护教职工群" in html and "160 人" in html and "超过 150 人" in html
    assert "机器人：管理员" in html and "未备案" in html and "1 人名片待整改" in html
    assert GROUP_B not in html

    page = (await client.get(f"/console/groups/{GROUP_A}")).text
    assert "缺少部门" in page and "200001" in page and "已到期" in page
    assert "人数超过" in page or "150" in page
    assert (await client.get(f"/console/groups/{GROUP_B}")).status_code == 404


async def test_the_registration_is_saved_through_the_command(env: ConsoleEnv) -> None:
    await env.role(ADMIN_A, GROUP_A, Role.ADMIN)
    client = await env.signed_in(ADMIN_A)
    page = (await client.get(f"/console/groups/{GROUP_A}")).text
    form = {
        "csrf": csrf_of(page),
        "name": "川护 教职工群",
        "owner": "王主任",
        "admins": "李老师，张老师",
        "responsible": "王主任's 助理",
        "purpose": '教职工"工作"通知',
        "registered_on": "2024-09-01",
    }
    saved = await client.post(f"/console/groups/{GROUP_A}/registry", data=form)
    assert saved.status_code == 303, saved.text
    assert env.console.registry is not None
    entry = await env.console.registry.get(GROUP_A)
    assert entry is not None
    assert (entry.name, entry.owner) == ("川护 教职工群", "王主任")
    assert entry.admins == ("李老师", "张老师")
    assert entry.responsible == "王主任's 助理" and entry.purpose == '教职工"工作"通知'
    assert str(entry.registered_on) == "2024-09-01" and entry.updated_by == ADMIN_A
    shown = (await client.get(saved.headers["location"])).text
    assert "备案已保存" in shown and 'value="教职工&#34;工作&#34;通知"' in shown
    bad = await client.post(
        f"/console/groups/{GROUP_A}/registry", data={**form, "registered_on": "2024-13-01"}
    )
    assert bad.status_code == 400 and "未完成" in bad.text
    elsewhere = await client.post(f"/console/groups/{GROUP_B}/registry", data=form)
    assert elsewhere.status_code == 404
    assert (await client.post(f"/console/groups/{GROUP_A}/registry", data={})).status_code == 415


async def test_the_overview_names_groups_and_items_that_need_someone(env: ConsoleEnv) -> None:
    await env.runtime.storage.digest.note_groups({GROUP_A: "川护教职工群"}, env.clock())
    await env.review_case()
    client = await env.signed_in(OFFICER_A)
    html = (await client.get("/console/")).text
    assert '<span class="n">1</span><span>待核实</span>' in html
    assert "1 个群未备案" in html and "0 个群超过人数上限" in html  # the platform not asked
    await env.console.group_infos.many([GROUP_A])  # what the hourly job does
    assert "1 个群超过人数上限" in (await client.get("/console/")).text
    env.clock.advance(timedelta(days=31))
    again = await env.signed_in(OFFICER_A)  # (the session has expired meanwhile)
    assert "1 个群长期不活跃" in (await again.get("/console/")).text

"""The console's 词库 (words) and 设置 (settings) pages: changes through the commands, at once.

A word added here is matched by the next message (the word service swaps the
keyword detector's overlay); the test box shows what matches and why; a setting
is validated and worded exactly as ``/设置`` does.
"""

from __future__ import annotations

import re

from rules.core.model import Role
from tests.console.conftest import ADMIN_A, GROUP_A, GROUP_B, OFFICER_A, ConsoleEnv


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


def findings_of(html: str) -> list[list[str]]:
    table = re.search(r'<table id="test-findings">(.*?)</table>', html, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr><td>(.*?)</tr>", table[1], re.S)
    return [re.findall(r"(?:^|<td>)([^<]*)</td>", "<td>" + row) for row in rows]


# ---------------------------------------------------------------- words


async def test_the_test_box_shows_what_matches_and_why(env: ConsoleEnv) -> None:
    client = await env.signed_in(OFFICER_A)
    page = await client.get("/console/words", params={"group": GROUP_A})
    csrf = csrf_of(page.text)
    text = "加我微信网赌包赢 电话13812345678 <script>x()</script>"
    tested = await client.post(
        "/console/words/test", data={"csrf": csrf, "group": GROUP_A, "text": text}
    )
    assert tested.status_code == 200
    rows = findings_of(tested.text)
    matched = {row[0]: row for row in rows}
    assert matched["网赌"][1:4] == ["赌博", "原文", "强"]
    assert matched["网赌"][4] == "4–6" and matched["网赌"][5] == "按群规处理"
    assert any(m.startswith("138") and "*" in m for m in matched)  # personal data masked
    assert "13812345678" not in tested.text.split("</textarea>")[1]
    assert "&lt;script&gt;x()&lt;/script&gt;" in tested.text and "<script>x()" not in tested.text
    weak = await client.post(
        "/console/words/test", data={"csrf": csrf, "group": GROUP_A, "text": "大码女装特价"}
    )
    assert findings_of(weak.text)[0][:6] == ["大码", "毒品", "谐音", "弱", "0–2", "待人工核实"]
    clean = await client.post(
        "/console/words/test", data={"csrf": csrf, "group": GROUP_A, "text": "明天开会"}
    )
    assert "没有命中" in clean.text
    no_csrf = await client.post("/console/words/test", data={"group": GROUP_A, "text": "网赌"})
    assert no_csrf.status_code == 403
    other = await client.post(
        "/console/words/test", data={"csrf": csrf, "group": GROUP_B, "text": "网赌"}
    )
    assert other.status_code == 404


async def test_words_added_and_removed_apply_at_once(env: ConsoleEnv) -> None:
    client = await env.signed_in(OFFICER_A)
    csrf = csrf_of((await client.get("/console/words")).text)

    async def test(text: str) -> list[str]:
        html = (
            await client.post(
                "/console/words/test", data={"csrf": csrf, "group": GROUP_A, "text": text}
            )
        ).text
        return [row[0] for row in findings_of(html)]

    assert await test("周末一起内卷吧") == []
    added = await client.post(
        "/console/words/change",
        data={
            "csrf": csrf,
            "group": GROUP_A,
            "list": "block",
            "verb": "add",
            "category": "insult",
            "words": "内卷\n躺平",
        },
    )
    assert added.status_code == 303, added.text
    page = (await client.get(added.headers["location"])).text
    assert "已添加" in page and "<b>内卷</b>" in page and "<b>躺平</b>" in page
    assert await test("周末一起内卷吧") == ["内卷"]
    again = await client.post(
        "/console/words/change",
        data={"csrf": csrf, "group": GROUP_A, "list": "block", "verb": "add",
              "category": "insult", "words": "内卷"},
    )  # fmt: skip
    assert again.status_code == 200 and "无变化" in again.text
    removed = await client.post(
        "/console/words/change",
        data={"csrf": csrf, "group": GROUP_A, "list": "block", "verb": "del", "words": "内卷"},
    )
    assert removed.status_code == 303
    assert await test("周末一起内卷吧") == []

    assert await test("大码女装特价") == ["大码"]
    allowed = await client.post(
        "/console/words/change",
        data={"csrf": csrf, "group": GROUP_A, "list": "allow", "verb": "add", "words": "大码"},
    )
    assert allowed.status_code == 303
    assert await test("大码女装特价") == []
    assert env.console.words is not None
    assert [(w.list, w.word) for w in await env.console.words.list(GROUP_A)] == [
        ("block", "躺平"),
        ("allow", "大码"),
    ]
    for bad, status in (
        ({"words": "两 个词"}, 400),
        ({"words": ""}, 400),
        ({"category": "nonsense"}, 400),
        ({"list": "other"}, 400),
    ):
        form = {"csrf": csrf, "group": GROUP_A, "list": "block", "verb": "add",
                "category": "insult", "words": "新词", **bad}  # fmt: skip
        assert (await client.post("/console/words/change", data=form)).status_code == status
    lines = (await client.get("/console/audit")).text
    assert "/敏感词 add insult 内卷 躺平" in lines


# ---------------------------------------------------------------- settings


async def test_settings_change_with_the_commands_validation(env: ConsoleEnv) -> None:
    client = await env.signed_in(OFFICER_A)
    page = await client.get("/console/settings", params={"group": GROUP_A})
    assert page.status_code == 200
    from_file = "<code>escalation.officers</code></td><td>[&#34;qq:900001&#34;]</td><td>配置文件"
    assert from_file in page.text
    csrf = csrf_of(page.text)

    async def post(**form: str) -> tuple[int, str]:
        response = await client.post(
            "/console/settings", data={"csrf": csrf, "group": GROUP_A, **form}
        )
        return response.status_code, response.text

    status, html = await post(verb="set", key="flood.repeat", value="4")
    assert status == 200 and 'id="reply"' in html and "flood.repeat" in html
    assert env.runtime.config.policy_for(GROUP_A).flood.repeat == 4
    assert "<code>flood.repeat</code></td><td>4</td><td>命令</td>" in html
    status, html = await post(verb="set", key="flood.repeat", value="many")
    assert status == 400 and 'id="problem"' in html
    assert env.runtime.config.policy_for(GROUP_A).flood.repeat == 4
    status, html = await post(verb="set", key="flood.nonsense", value="1")
    assert status == 400 and "flood.nonsense" in html
    status, html = await post(verb="show", key="flood.repeat")
    assert status == 200 and "4" in html
    status, _ = await post(verb="dryrun-on")
    assert status == 303 and env.runtime.config.policy_for(GROUP_A).moderation.dry_run
    status, _ = await post(verb="unset", key="flood.repeat")
    assert status == 303
    assert "flood" not in env.runtime.config.runtime_overrides(GROUP_A)
    assert (await post(verb="drop"))[0] == 400
    other = await client.post(
        "/console/settings", data={"csrf": csrf, "group": GROUP_B, "verb": "dryrun-on"}
    )
    assert other.status_code == 404


async def test_an_admin_cannot_change_what_only_officers_may(env: ConsoleEnv) -> None:
    await env.role(ADMIN_A, GROUP_A, Role.ADMIN)
    client = await env.signed_in(ADMIN_A)
    csrf = csrf_of((await client.get("/console/settings")).text)
    refused = await client.post(
        "/console/settings",
        data={"csrf": csrf, "group": GROUP_A, "verb": "set",
              "key": "escalation.officers", "value": '["qq:1"]'},
    )  # fmt: skip
    assert refused.status_code == 400 and "只有负责人可以修改" in refused.text
    assert "escalation" not in env.runtime.config.runtime_overrides(GROUP_A)
    allowed = await client.post(
        "/console/settings",
        data={"csrf": csrf, "group": GROUP_A, "verb": "set", "key": "flood.repeat", "value": "5"},
    )
    assert allowed.status_code == 200
    assert env.runtime.config.policy_for(GROUP_A).flood.repeat == 5

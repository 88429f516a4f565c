"""The console over HTTP: sign-in links, cookies, CSRF, headers, scope, escaping, decisions.

Each test runs a real Runtime on a SQLite file and talks to the console through
httpx's ASGI transport; see ``conftest.py``.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from rules.core.model import ActionKind, Finding, OfficerTask, OutcomeStatus, Role, TaskKind
from rules.storage.console_queries import console_links, console_sessions
from rules.storage.tables import audit_log, outbox, strikes
from tests.console.conftest import (
    ADMIN_A,
    GLOBAL_OFFICER,
    GROUP_A,
    GROUP_B,
    NOBODY,
    OFFICER_A,
    SPAMMER,
    SUPERUSER,
    ConsoleEnv,
    make_env,
    token_of,
)


async def audit(env: ConsoleEnv) -> list[tuple[str, str | None, str, str]]:
    async with env.runtime.storage.database.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.actor_id, audit_log.c.group_id, audit_log.c.command,
                   audit_log.c.outcome).order_by(audit_log.c.id)
        )  # fmt: skip
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def csrf_token(session: str) -> str:
    from plugins.console.security import csrf_token

    return csrf_token(session)


def csp() -> str:
    from plugins.console.security import CONTENT_SECURITY_POLICY

    return CONTENT_SECURITY_POLICY


COOKIE = "gg_console"  # plugins.console.web.COOKIE (imported lazily: see conftest)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


# ---------------------------------------------------------------- one-time links


async def test_a_link_signs_in_once_and_only_by_post(env: ConsoleEnv) -> None:
    url = await env.link(OFFICER_A)
    assert url.startswith("http://127.0.0.1:8080/console/login?t=")
    token = token_of(url)
    client = env.client()
    for _ in range(2):  # a link preview fetching the page does not use the link up
        page = await client.get("/console/login", params={"t": token})
        assert page.status_code == 200
        assert 'action="/console/login"' in page.text
    first = await client.post("/console/login", data={"t": token})
    assert first.status_code == 303
    assert first.headers["location"] == "/console/"
    assert (await client.get("/console/")).status_code == 200

    again = env.client()
    second = await again.post("/console/login", data={"t": token})
    assert second.status_code == 400
    assert COOKIE not in second.cookies
    assert "已使用或已过期" in second.text
    assert (await again.get("/console/")).status_code == 401

    async with env.runtime.storage.database.engine.connect() as conn:
        stored = (await conn.execute(select(console_links.c.token_hash))).scalars().all()
        sessions = (await conn.execute(select(console_sessions.c.token_hash))).scalars().all()
    assert token not in stored and len(stored[0]) == 64  # only the hash is kept
    assert client.cookies[COOKIE] not in sessions
    lines = await audit(env)
    assert (OFFICER_A, None, "[console] console link (test)", "ok: issued") in lines
    signed = [line for line in lines if "sign-in" in line[2]]
    assert signed[0][0] == OFFICER_A and "203.0.113.7" in signed[0][2]
    assert signed[1][0] == "-" and signed[1][3].startswith("refused")


async def test_a_link_expires_after_five_minutes(env: ConsoleEnv) -> None:
    late = token_of(await env.link(OFFICER_A))
    in_time = token_of(await env.link(OFFICER_A))
    env.clock.advance(timedelta(minutes=4, seconds=59))
    assert (await env.client().post("/console/login", data={"t": in_time})).status_code == 303
    env.clock.advance(timedelta(seconds=1))
    assert (await env.client().post("/console/login", data={"t": late})).status_code == 400


async def test_a_session_ends_after_its_lifetime_and_on_sign_out(env: ConsoleEnv) -> None:
    client = await env.signed_in(OFFICER_A)
    env.clock.advance(timedelta(hours=7, minutes=59))
    page = await client.get("/console/")
    assert page.status_code == 200
    out = await client.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await client.get("/console/")).status_code == 401

    other = await env.signed_in(OFFICER_A)
    env.clock.advance(timedelta(hours=8))
    assert (await other.get("/console/")).status_code == 401


async def test_people_who_oversee_nothing_get_no_link(env: ConsoleEnv) -> None:
    assert await env.console.issue_link(NOBODY, "command") is None
    assert (await audit(env))[-1][3] == "refused: no groups"


async def test_sign_in_attempts_are_rate_limited_per_address() -> None:
    env = await make_env({"redeem_limit": 3})
    try:
        client = env.client()
        for _ in range(3):
            assert (await client.post("/console/login", data={"t": "x" * 43})).status_code == 400
        good = token_of(await env.link(OFFICER_A))
        assert (await client.post("/console/login", data={"t": good})).status_code == 429
        assert any(line[3] == "refused: rate limit" for line in await audit(env))
    finally:
        await env.runtime.close()


# ---------------------------------------------------------------- cookies and headers


async def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_console(
    env: ConsoleEnv,
) -> None:
    token = token_of(await env.link(OFFICER_A))
    response = await env.client().post("/console/login", data={"t": token})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http on loopback


async def test_behind_https_the_cookie_is_secure() -> None:
    env = await make_env({"public_url": "https://guard.example.org"}, "https://guard.example.org")
    try:
        url = await env.link(OFFICER_A)
        assert url.startswith("https://guard.example.org/console/login?t=")
        response = await env.client().post("/console/login", data={"t": token_of(url)})
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]
    finally:
        await env.runtime.close()


async def test_every_response_carries_the_security_headers(env: ConsoleEnv) -> None:
    await env.case()
    client = await env.signed_in(OFFICER_A)
    responses = [
        await client.get("/console/"),
        await client.get("/console/cases"),
        await client.get("/console/cases/999"),
        await env.client().get("/console/"),
        await client.get("/console/static/console-2.css"),
        await env.client().get("/console/login"),
    ]
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == csp()
        assert "script-src 'self'" in csp()
        assert "unsafe-inline" not in csp()
        assert "frame-ancestors 'none'" in csp()
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert responses[0].headers["cache-control"] == "no-store"
    assert "immutable" in responses[4].headers["cache-control"]


async def test_pages_have_no_inline_script_or_style(env: ConsoleEnv) -> None:
    case_id = await env.case()
    client = await env.signed_in(GLOBAL_OFFICER)
    pages = ("/", "/cases", f"/cases/{case_id}", "/tasks", "/groups", "/audit", "/words",
             "/settings", "/groups/qq%3A1001")  # fmt: skip
    for path in pages:
        response = await client.get(f"/console{path}")
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


# ---------------------------------------------------------------- CSRF


async def test_a_write_without_the_sessions_csrf_token_is_refused(env: ConsoleEnv) -> None:
    case_id = await env.case()
    client = await env.signed_in(OFFICER_A)
    other = await env.signed_in(OFFICER_A)
    decide = f"/console/cases/{case_id}/decision"
    page = await client.get(f"/console/cases/{case_id}")
    right = csrf_of(page.text)
    assert right == csrf_token(client.cookies[COOKIE])
    for form in (
        {"decision": "pardon"},
        {"decision": "pardon", "csrf": ""},
        {"decision": "pardon", "csrf": "0" * 64},
        {"decision": "pardon", "csrf": csrf_token(other.cookies[COOKIE])},
    ):
        assert (await client.post(decide, data=form)).status_code == 403
    cross = await client.post(
        decide,
        data={"decision": "pardon", "csrf": right},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    fetch_site = await client.post(
        decide, data={"decision": "pardon", "csrf": right}, headers={"sec-fetch-site": "cross-site"}
    )
    assert fetch_site.status_code == 403
    json_body = await client.post(decide, json={"decision": "pardon", "csrf": right})
    assert json_body.status_code == 415
    assert (await client.get(f"/console/cases/{case_id}")).text.count("待定") >= 1
    detail = await env.console.queries.case_detail(case_id, None)
    assert detail is not None and detail.case.status == "open"


# ---------------------------------------------------------------- scope


async def test_an_officer_of_group_a_gets_404_for_group_b(env: ConsoleEnv) -> None:
    mine = await env.case(group=GROUP_A)
    theirs = await env.case(group=GROUP_B, text="群B的网赌广告")
    officer = await env.signed_in(OFFICER_A)
    assert (await officer.get(f"/console/cases/{mine}")).status_code == 200
    hidden = await officer.get(f"/console/cases/{theirs}")
    assert hidden.status_code == 404
    assert "群B" not in hidden.text
    csrf = csrf_of((await officer.get(f"/console/cases/{mine}")).text)
    refused = await officer.post(
        f"/console/cases/{theirs}/decision", data={"decision": "pardon", "csrf": csrf}
    )
    assert refused.status_code == 404
    assert (await officer.get("/console/cases", params={"group": GROUP_B})).status_code == 404
    listed = await officer.get("/console/cases")
    assert f"#{mine}<" in listed.text and f"#{theirs}<" not in listed.text
    overview = await officer.get("/console/")
    assert GROUP_B not in overview.text

    everyone = await env.signed_in(GLOBAL_OFFICER)
    assert (await everyone.get(f"/console/cases/{theirs}")).status_code == 200
    superuser = await env.signed_in(SUPERUSER)
    assert (await superuser.get(f"/console/cases/{theirs}")).status_code == 200


async def test_a_group_admin_sees_only_their_group(env: ConsoleEnv) -> None:
    mine = await env.case(group=GROUP_A)
    theirs = await env.case(group=GROUP_B)
    assert await env.console.issue_link(ADMIN_A, "command") is None  # not known as admin yet
    await env.role(ADMIN_A, GROUP_A, Role.ADMIN)
    await env.role(ADMIN_A, GROUP_B, Role.MEMBER)
    admin = await env.signed_in(ADMIN_A)
    assert (await admin.get(f"/console/cases/{mine}")).status_code == 200
    assert (await admin.get(f"/console/cases/{theirs}")).status_code == 404
    # demoted on the platform: the next request no longer sees the group
    await env.role(ADMIN_A, GROUP_A, Role.MEMBER)
    assert (await admin.get(f"/console/cases/{mine}")).status_code == 401


async def test_ids_that_are_not_numbers_are_not_found(env: ConsoleEnv) -> None:
    client = await env.signed_in(OFFICER_A)
    for path in ("/cases/abc", "/cases/1%20OR%201=1", "/cases/99999999999999999999999"):
        assert (await client.get(f"/console{path}")).status_code in (404, 400)
    assert (await client.get("/console/cases", params={"after": "x.y"})).status_code == 400


# ---------------------------------------------------------------- hostile text


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>网赌\"'&"
CARD = '"><svg onload=alert(3)>'


async def test_hostile_message_text_and_cards_render_as_text(env: ConsoleEnv) -> None:
    case_id = await env.case(XSS, card=CARD)
    await env.runtime.storage.digest.note_groups(
        {GROUP_A: "<b>群</b><script>x()</script>"}, env.clock()
    )
    client = await env.signed_in(GLOBAL_OFFICER)
    for path in (f"/cases/{case_id}", "/cases", "/", "/groups"):
        html = (await client.get(f"/console{path}")).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "<svg onload" not in html and "<script>x()" not in html, path
    page = (await client.get(f"/console/cases/{case_id}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<mark" in page and ">网赌</mark>" in page
    assert "&#34;&gt;&lt;svg onload=alert(3)&gt;" in page
    overview = (await client.get("/console/")).text
    assert "&lt;b&gt;群&lt;/b&gt;" in overview  # in the chart's SVG labels too


# ---------------------------------------------------------------- decisions


async def test_pardon_runs_the_pardon_command(env: ConsoleEnv) -> None:
    case_id = await env.case(weight=3)
    await env.runtime.storage.tasks.add_task(
        OfficerTask(TaskKind.APPEAL, GROUP_A, SPAMMER, env.clock(), SPAMMER, case_id, "误判")
    )
    client = await env.signed_in(OFFICER_A)
    page = await client.get(f"/console/cases/{case_id}")
    assert 'id="active-weight">3<' in page.text
    done = await client.post(
        f"/console/cases/{case_id}/decision",
        data={"decision": "pardon", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/cases/{case_id}?done=pardoned"
    after = await client.get(done.headers["location"])
    assert "已赦免" in after.text and 'id="active-weight">0<' in after.text
    async with env.runtime.storage.database.engine.connect() as conn:
        voided = (await conn.execute(select(strikes.c.voided))).scalars().all()
        told = (await conn.execute(select(outbox.c.officer_id, outbox.c.text))).all()
    assert voided == [True]
    assert [who for who, _ in told] == [SPAMMER]  # the appellant is answered, as by command
    lines = await audit(env)
    assert (OFFICER_A, GROUP_A, f"/赦免 #{case_id}") == lines[-2][:3]  # the command layer's line
    assert lines[-1][2] == f"[console from 203.0.113.7] /赦免 #{case_id}"
    assert lines[-1][3].startswith("ok: ")


async def test_an_admin_upholds_with_a_note(env: ConsoleEnv) -> None:
    case_id = await env.case()
    await env.role(ADMIN_A, GROUP_A, Role.OWNER)
    client = await env.signed_in(ADMIN_A)
    page = await client.get(f"/console/cases/{case_id}")
    done = await client.post(
        f"/console/cases/{case_id}/decision",
        data={"decision": "uphold", "note": "证据\n确凿", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    assert "已维持" in (await client.get(done.headers["location"])).text
    assert (await audit(env))[-2][2] == f"/维持 #{case_id} 证据 确凿"


async def test_an_unknown_decision_is_refused(env: ConsoleEnv) -> None:
    case_id = await env.case()
    client = await env.signed_in(OFFICER_A)
    csrf = csrf_of((await client.get(f"/console/cases/{case_id}")).text)
    bad = await client.post(
        f"/console/cases/{case_id}/decision", data={"decision": "kick", "csrf": csrf}
    )
    assert bad.status_code == 400


# ---------------------------------------------------------------- lists and overview


async def test_the_case_list_pages_by_keyset_and_filters(env: ConsoleEnv) -> None:
    ids = []
    for n in range(120):
        ids.append(await env.case(f"第{n}条 网赌", ago=timedelta(minutes=120 - n)))
    other = await env.case("刷屏", findings=[Finding("flood", "flood", "刷屏", 0, 2)])
    client = await env.signed_in(OFFICER_A)
    seen: list[int] = []
    url = "/console/cases?category=gambling"
    pages = 0
    while url:
        html = (await client.get(url)).text
        seen += [int(n) for n in re.findall(r"<b>#(\d+)</b>", html)]
        more = re.search(r'<li class="more"><a href="/console(/cases\?[^"]+)"', html)
        url = "/console" + more[1].replace("&amp;", "&") if more else ""
        pages += 1
    assert pages == 3
    assert seen == sorted(ids, reverse=True)
    fragment = await client.get("/console/cases", headers={"hx-request": "true"})
    assert "<html" not in fragment.text and fragment.text.count('class="case"') == 50
    flood = (await client.get("/console/cases", params={"category": "flood"})).text
    assert re.findall(r"<b>#(\d+)</b>", flood) == [str(other)]
    by_member = await client.get("/console/cases", params={"member": "200001", "status": "open"})
    assert len(re.findall(r"<b>#(\d+)</b>", by_member.text)) == 50
    nobody = await client.get("/console/cases", params={"member": "qq:42"})
    assert "没有符合条件的案件" in nobody.text
    day = await client.get("/console/cases", params={"from": "2026-11-03", "to": "2026-11-03"})
    assert "没有符合条件的案件" in day.text
    assert (await client.get("/console/cases", params={"status": "x"})).status_code == 400


async def test_the_overview_counts_today_and_the_last_30_days(env: ConsoleEnv) -> None:
    await env.case()
    await env.case(outcomes=((ActionKind.MUTE, OutcomeStatus.FAILED),))
    await env.case(ago=timedelta(days=3))
    await env.case(ago=timedelta(days=40))  # outside the period
    client = await env.signed_in(OFFICER_A)
    html = (await client.get("/console/")).text
    tiles = re.findall(r'<span class="n">(\d+)</span><span>([^<]+)</span>', html)
    assert ("2", "今日案件") in tiles
    assert ("3", "近 30 天案件") in tiles
    assert ("1", "失败的处置（30 天）") in tiles
    assert html.count("<svg") == 4
    assert "赌博" in html or "gambling" in html


@pytest.mark.parametrize("path", ["/tasks", "/groups", "/audit", "/words", "/settings"])
async def test_the_other_pages_open(env: ConsoleEnv, path: str) -> None:
    client = await env.signed_in(OFFICER_A)
    response = await client.get(f"/console{path}")
    assert response.status_code == 200
    assert 'aria-current="page"' in response.text

"""The console in the bot: /后台 through the command service, ``bot.py console-link``,
and the real bot serving ``/console`` when ``[console] enabled``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from rules.commands import CommandRequest
from rules.core.model import Member, Platform, Role
from tests.console.conftest import (
    ADMIN_A,
    GROUP_A,
    NOBODY,
    OFFICER_A,
    ConsoleEnv,
    token_of,
)

ROOT = Path(__file__).resolve().parents[2]


def private(person: str, text: str, env: ConsoleEnv) -> CommandRequest:
    return CommandRequest(
        platform=Platform.QQ, caller=Member(person, role=Role.MEMBER), text=text, time=env.clock()
    )


async def test_the_console_command_replies_with_a_one_time_link(env: ConsoleEnv) -> None:
    commands = env.runtime.commands
    assert commands is not None
    off = await commands.handle(private(OFFICER_A, "/后台", env))
    assert off is not None and "未开启" in off
    assert "/后台" not in (await commands.handle(private(OFFICER_A, "/帮助", env)) or "")
    commands.console_links = env.console.issue_link
    listed = await commands.handle(private(OFFICER_A, "/帮助", env))
    assert listed is not None and "/后台 (/console) — 管理后台的一次性登录链接" in listed

    reply = await commands.handle(private(OFFICER_A, "/后台", env))
    assert reply is not None
    assert "5 分钟内有效，仅可使用一次" in reply
    url = reply.splitlines()[-1]
    assert url.startswith("http://127.0.0.1:8080/console/login?t=")
    client = env.client()
    assert (await client.post("/console/login", data={"t": token_of(url)})).status_code == 303
    assert (await client.get("/console/")).status_code == 200

    english = await commands.handle(private(OFFICER_A, "/console", env))
    assert english is not None and "/console/login?t=" in english

    # an owner is a plain member in a private message: the console knows their group
    await env.role(ADMIN_A, GROUP_A, Role.OWNER)
    owner = await commands.handle(private(ADMIN_A, "/后台", env))
    assert owner is not None and "/console/login?t=" in owner

    nobody = await commands.handle(private(NOBODY, "/后台", env))
    assert nobody is not None and "无法进入管理后台" in nobody and "http" not in nobody

    in_group = CommandRequest(
        platform=Platform.QQ,
        caller=Member(OFFICER_A, role=Role.MEMBER),
        text="/后台",
        time=env.clock(),
        group_id=GROUP_A,
    )
    refused = await commands.handle(in_group)
    assert refused is not None and "私聊" in refused and "http" not in refused

    from sqlalchemy import select

    from rules.storage.tables import audit_log

    async with env.runtime.storage.database.engine.connect() as conn:
        lines = (await conn.execute(select(audit_log.c.command, audit_log.c.outcome))).all()
    assert ("/后台", "ok: link issued") in [(c, o) for c, o in lines]
    assert not any("?t=" in c or "?t=" in o for c, o in lines)  # the link is never logged


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(tmp_path: Path, port: int, enabled: bool = True) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"[server]\nport = {port}\n"
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/gg.db"\n'
        f'[escalation]\nofficers = ["qq:10001"]\n'
        f"[console]\nenabled = {'true' if enabled else 'false'}\n",
        encoding="utf-8",
    )
    return config


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_console_link_on_the_command_line(tmp_path: Path) -> None:
    config = _config(tmp_path, 8080)
    made = _cli("console-link", "qq:10001", "--config", str(config))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("http://127.0.0.1:8080/console/login?t=")
    assert "usable once" in made.stderr
    nobody = _cli("console-link", "qq:555", "--config", str(config))
    assert nobody.returncode == 1 and nobody.stdout == ""
    assert "oversees no group" in nobody.stderr
    off = _cli("console-link", "qq:10001", "--config", str(_config(tmp_path, 8080, False)))
    assert off.returncode == 1 and "enabled = true" in off.stderr


def test_the_bot_serves_the_console_when_enabled(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, port)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "officer console:" in line:
                break
        assert any("officer console:" in line for line in output), "".join(output)
        base = f"http://127.0.0.1:{port}/console"
        while time.monotonic() < deadline:  # the line comes before uvicorn listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        with urllib.request.urlopen(f"{base}/login", timeout=10) as page:
            assert page.status == 200
            assert "script-src 'self'" in page.headers["content-security-policy"]
        made = _cli("console-link", "qq:10001", "--config", str(config))
        assert made.returncode == 0, made.stderr
        token = token_of(made.stdout.strip())
        form = urllib.parse.urlencode({"t": token}).encode()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(urllib.request.Request(f"{base}/login", data=form), timeout=10)
            raise AssertionError("expected a redirect")
        except urllib.error.HTTPError as answer:
            assert answer.code == 303
            assert "gg_console=" in answer.headers["set-cookie"]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        output.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(output)
    assert "Traceback" not in text, text
    assert proc.returncode == 0, text

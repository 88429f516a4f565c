"""Security defaults of the real bot (``python bot.py`` in a subprocess, loopback only).

- The OneBot endpoint refuses a WebSocket without the configured token, in
  every form (missing, empty, wrong scheme, in the query string, a prefix of
  it), on every path the adapter serves.
- Events cannot be injected over HTTP POST (the adapter's HTTP endpoints do
  not check the access token, so the bot does not serve them).
- Binding beyond loopback without a token is refused before nonebot starts:
  exit status 2 and one clear line.
- Secrets (the OneBot token, the WeChat token, a database password) never
  appear in the output: start-up banner, handled events, commands, config
  errors, a failed start, shutdown.
- Picture URLs written in a message (an image segment's url, a market sticker,
  a card's preview, a picture in a forwarded message) that point at this
  machine are not requested (SSRF): with the default ``[images]
  fetch_private = false`` a loopback server they name receives nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rules.config import ConfigError, parse_config
from tests import imagegen
from tests.e2e.onebot_client import (
    FakeOneBot,
    SimGroup,
    free_port,
    group_message_event,
    running_bot,
    text,
    write_config,
)
from tests.rules.images.loopback import LoopbackServer, respond

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-3f9c1e7a-onebot-SECRET"
WECHAT_TOKEN = "insecure_wx-77ab21-SECRET"
DB_PASSWORD = "pw-5e1d0c-SECRET"
SECRETS = (TOKEN, WECHAT_TOKEN, DB_PASSWORD)
BOT, GROUP, OWNER, MEMBER, OFFICER = 10000, 5001, 19990, 20010, 90001
WS_PATHS = ("/onebot/v11/ws", "/onebot/v11/ws/", "/onebot/v11/")
HTTP_PATHS = ("/onebot/v11/http", "/onebot/v11/http/", "/onebot/v11/")


def bot_py(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def assert_no_secret(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output, f"a secret appears in the output: ...{secret[-8:]}"


@dataclass
class Running:
    port: int
    log: Path

    def url(self, path: str = "/onebot/v11/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One bot with every secret set; its whole output is checked when it has stopped."""
    directory = tmp_path_factory.mktemp("security")
    port, closed = free_port(), free_port()
    wechat = f"""
[wechat]
enabled = true
endpoint = "127.0.0.1:{closed}"  # nothing listens: the bot keeps retrying, and logs it
token = "{WECHAT_TOKEN}"
connect_timeout = "1s"
"""
    config = write_config(directory, port, TOKEN, {"gambling": ["测试赌局"]}, wechat)
    log = directory / "bot.log"
    async with running_bot(config, port, log):
        yield Running(port, log)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert "GroupGuard (群卫士) starting" in output and "token:     set" in output
    assert_no_secret(output)


def group() -> SimGroup:
    sim = SimGroup(GROUP, "测试群")
    sim.add(BOT, "admin", "群卫士+办公室")
    sim.add(OWNER, "owner", "王主任+办公室")
    sim.add(MEMBER, "member", "张伟+教务处")
    sim.add(20020, "member", "李娜+教务处")
    return sim


HEADERS = {
    "no Authorization": {},
    "empty bearer": {"Authorization": "Bearer "},
    "bare scheme": {"Authorization": "Bearer"},
    "empty header": {"Authorization": ""},
    "wrong scheme": {"Authorization": f"Basic {TOKEN}"},
    "token without scheme": {"Authorization": TOKEN},
    "prefix of the token": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "token plus more": {"Authorization": f"Bearer {TOKEN}x"},
    "wrong token": {"Authorization": "Bearer wrong"},
    "other header": {"X-Access-Token": TOKEN},
}


@pytest.mark.parametrize("path", WS_PATHS)
async def test_the_endpoint_refuses_connections_without_the_token(bot: Running, path: str) -> None:
    for name, headers in HEADERS.items():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(bot.url(path), additional_headers={"X-Self-ID": "123", **headers}):
                pass
        assert refused.value.response.status_code == 403, name
    with pytest.raises(InvalidStatus):  # the token in the query string is not a token
        async with connect(
            bot.url(path) + f"?access_token={TOKEN}", additional_headers={"X-Self-ID": "123"}
        ):
            pass


def forged(user: int, role: str, message: str, message_id: int) -> dict[str, object]:
    sender = {"card": "王主任+办公室", "role": role}
    return group_message_event(BOT, GROUP, user, text(message), message_id, sender)


async def test_events_cannot_be_posted_over_http(bot: Running) -> None:
    """A forged 'owner' command posted over HTTP, as the connected account: nothing happens."""
    async with FakeOneBot(bot.url(), BOT, TOKEN, [group()]) as qq, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{bot.port}"
        for number, path in enumerate(HTTP_PATHS):
            for auth in ({}, {"Authorization": f"Bearer {TOKEN}"}):
                event = forged(OWNER, "owner", f"/踢出 {MEMBER}", 100 + number)
                response = await http.post(
                    base + path,
                    content=json.dumps(event, ensure_ascii=False),
                    headers={"X-Self-ID": str(BOT), "Content-Type": "application/json", **auth},
                )
                assert response.status_code >= 400, (path, auth, response.status_code)
        await qq.quiet(1.0)
        assert qq.calls == [], [c.action for c in qq.calls]

        # the control: the same command over the authenticated WebSocket is carried out
        await qq.send(forged(OWNER, "owner", f"/踢出 {MEMBER}", 200))
        await qq.wait_for(lambda c: c.action == "set_group_kick", within=10)


async def test_a_handled_violation_and_command_leave_no_secret(bot: Running) -> None:
    """Events, an officer report and a command, for the output checked at shutdown."""
    async with FakeOneBot(bot.url(), BOT, TOKEN, [group()]) as qq:
        await qq.send(forged(20020, "member", "测试赌局 来玩", 300))
        await qq.wait_for(lambda c: c.action == "send_private_msg", within=10)
        await qq.send(forged(OWNER, "owner", "/帮助", 301))
        await qq.wait_for(lambda c: c.action == "send_group_msg", within=10)
    await asyncio.sleep(0.2)
    assert_no_secret(bot.log.read_text(encoding="utf-8", errors="replace"))


async def test_picture_urls_in_messages_do_not_reach_this_machine(bot: Running) -> None:
    """A member's message names pictures on a loopback server four ways; the bot tries
    each (its log says why not) and the server is never asked."""
    picture = imagegen.png(imagegen.text_image(["测试赌局"], width=300))
    async with LoopbackServer() as server, FakeOneBot(bot.url(), BOT, TOKEN, [group()]) as qq:
        server.routes = {f"/{n}.png": respond(picture, content_type="image/png") for n in range(4)}
        card = {"meta": {"news": {"title": "通知", "preview": server.url("/0.png")}}}
        inner = {"type": "image", "data": {"file": "SSRF2.jpg", "url": server.url("/1.png")}}
        message = [
            {"type": "json", "data": {"data": json.dumps(card, ensure_ascii=False)}},
            {
                "type": "forward",
                "data": {"content": [{"type": "node", "data": {"content": [inner]}}]},
            },
            {"type": "image", "data": {"file": "SSRF3.jpg", "url": server.url("/2.png")}},
            {"type": "mface", "data": {"url": server.url("/3.png"), "emoji_id": "ssrf"}},
        ]
        await qq.send(forged(20020, "member", "", 400) | {"message": message})
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            log = bot.log.read_text(encoding="utf-8", errors="replace")
            refused = [
                line
                for line in log.splitlines()
                if "not fetched" in line and "not_allowed" in line and "127.0.0.1" in line
            ]
            if len(refused) >= 4 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert len(refused) == 4, refused
        assert all("is a private or local address" in line for line in refused), refused
        assert server.requests == []
        assert not any(c.action == "delete_msg" for c in qq.calls)  # nothing was looked at


# ---------------------------------------------------------------- refusing to start


def refused_at_start(tmp_path: Path, server: str, expected: str) -> None:
    config = tmp_path / "open.toml"
    config.write_text(f"[server]\nport = {free_port()}\n{server}", encoding="utf-8")
    result = bot_py("run", "--config", str(config))
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: invalid config {config}:")
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nonebot never started: no server, no port
    assert "NoneBot" not in result.stderr and "Uvicorn" not in result.stderr


def test_no_token_beyond_loopback_is_refused_before_starting(tmp_path: Path) -> None:
    server = 'host = "::"\n[onebot]\naccess_token = "   "\n'  # (0.0.0.0: tests/test_cli.py)
    refused_at_start(tmp_path, server, "onebot.access_token: must be set when server.host")


@pytest.mark.parametrize(("host", "token"), [("192.168.1.10", ""), ("0.0.0.0", " \t")], ids=str)
def test_no_token_beyond_loopback_anywhere(host: str, token: str) -> None:
    with pytest.raises(ConfigError, match=r"onebot\.access_token: must be set"):
        parse_config({"server": {"host": host}, "onebot": {"access_token": token}})


def test_a_host_that_is_no_address_is_refused_before_starting(tmp_path: Path) -> None:
    refused_at_start(tmp_path, 'host = "example.com"\n', "server.host: use an IP address")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_without_a_token_is_allowed(host: str) -> None:
    assert parse_config({"server": {"host": host}}).server.loopback_only


@pytest.mark.parametrize("host", ["", "0.0.0.0:8080", "127.0.0.1 ", "localhost.", "[::1]"])
def test_only_plain_addresses(host: str) -> None:
    with pytest.raises(ConfigError, match=r"server\.host: use an IP address"):
        parse_config({"server": {"host": host}, "onebot": {"access_token": "x"}})


# ---------------------------------------------------------------- secrets in errors


def test_config_errors_do_not_echo_secrets(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        f"""
[onebot]
access_token = ["{TOKEN}"]
[wechat]
token = ["{WECHAT_TOKEN}"]
[database]
url = "mysql://guard:{DB_PASSWORD}@db/guard"
""",
        encoding="utf-8",
    )
    for command in ("check-config", "run"):
        result = bot_py(command, "--config", str(config))
        assert result.returncode == 2
        assert "onebot.access_token" in result.stderr and "database.url" in result.stderr
        assert_no_secret(result.stdout + result.stderr)


def test_a_database_password_stays_out_of_a_failed_start(tmp_path: Path) -> None:
    """The bot starts, cannot reach PostgreSQL, and stops: the traceback has no password."""
    url = f"postgresql+asyncpg://guard:{DB_PASSWORD}@127.0.0.1:{free_port()}/guard"
    config = tmp_path / "pg.toml"
    config.write_text(f'[server]\nport = {free_port()}\n[database]\nurl = "{url}"\n')
    result = bot_py("run", "--config", str(config), timeout=90)
    assert result.returncode != 0 and "Traceback" in result.stdout + result.stderr
    assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize("where", ["127.0.0.1:notaport", "[::1"])
def test_a_bad_database_url_is_a_config_error_without_the_password(where: str) -> None:
    url = f"postgresql+asyncpg://guard:{DB_PASSWORD}@{where}/guard"
    with pytest.raises(ConfigError) as error:
        parse_config({"database": {"url": url}})
    assert "database.url: not a valid database URL" in str(error.value)
    assert_no_secret(str(error.value))

"""The real Wechaty puppet service from npm, run by the tests (tests/gateway/).

``wechaty-puppet-service``'s ``PuppetServer`` (the code of the ``wechaty``
gateway image) serving ``wechaty-puppet-mock``'s ``PuppetMock``, pinned in
``tests/gateway/package-lock.json`` and installed with ``npm ci`` (no install
scripts, nothing downloaded but the locked packages) the first time a test
needs it; ``node_modules`` is reused while the lock file is unchanged.

Without Node.js the tests are skipped with the reason, except under CI (``CI``
or ``GROUPGUARD_REQUIRE_SERVICES`` set), where they fail.

:class:`Gateway` starts ``node tests/gateway/gateway.mjs`` on loopback ports,
drives it through its control channel (log the bot's account in, create a
room, make a member speak) and reads back what happened on the server side
(RPCs and how their token arrived, logins, logouts, messages sent, removals).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.onebot_client import free_port

GATEWAY_DIR = Path(__file__).resolve().parents[2] / "gateway"
SCRIPT = GATEWAY_DIR / "gateway.mjs"
LOCK = GATEWAY_DIR / "package-lock.json"
STAMP = GATEWAY_DIR / "node_modules" / ".groupguard-lock.sha256"
START_TIMEOUT = 30.0
MIN_NODE = 18


def _required() -> bool:
    return any(
        os.environ.get(v, "") not in ("", "0") for v in ("CI", "GROUPGUARD_REQUIRE_SERVICES")
    )


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"{reason}; required under CI (CI or GROUPGUARD_REQUIRE_SERVICES set)")
    pytest.skip(reason)


def node_and_npm() -> tuple[str, str]:
    """Paths of node and npm; skip (fail under CI) when absent or too old."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("Node.js (node and npm) not found: the real Wechaty gateway tests need it")
    assert node and npm
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.", version.stdout.strip())
    if not match or int(match.group(1)) < MIN_NODE:
        _unavailable(f"Node.js >= {MIN_NODE} needed for the gateway, found {version.stdout!r}")
    return node, npm


def ensure_installed(npm: str) -> None:
    """``npm ci`` in tests/gateway unless node_modules already matches the lock file."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    lock_path = Path(tempfile.gettempdir()) / "groupguard-gateway-npm.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel sessions)
        if STAMP.exists() and STAMP.read_text().strip() == digest:
            return
        started = time.monotonic()
        result = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=GATEWAY_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in {GATEWAY_DIR} failed:\n{result.stdout}\n{result.stderr}")
        STAMP.write_text(digest + "\n")
        print(f"npm ci for the test gateway: {time.monotonic() - started:.1f}s")


class Gateway:
    """One ``node gateway.mjs`` process; restartable on the same ports."""

    def __init__(self, node: str, directory: Path, token: str, tls: bool = False) -> None:
        self.node = node
        self.directory = directory
        self.token = token
        self.tls = tls
        self.port = free_port()
        self.control_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.control_port}", timeout=10.0
        )

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"gateway-{self.runs}.log"

    async def start(self) -> None:
        self.runs += 1
        args = [
            self.node,
            str(SCRIPT),
            "--port",
            str(self.port),
            "--control",
            str(self.control_port),
            "--token",
            self.token,
        ]
        if self.tls:
            args.append("--tls")
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once; polled below)
            args,
            cwd=GATEWAY_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ | {"WECHATY_LOG": "warn"},
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while "LISTENING" not in self.log_path.read_text("utf-8", errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.log_path.read_text("utf-8", errors="replace")
                await self.stop()
                raise RuntimeError(f"gateway did not start:\n{text[-3000:]}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        for _ in range(100):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        await self._http.aclose()

    # ------------------------------------------------------------ control channel

    async def command(self, command: str, **body: Any) -> dict[str, Any]:
        response = await self._http.post(f"/{command}", json=body)
        data: dict[str, Any] = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"gateway /{command} failed: {data.get('error')}")
        return data

    async def state(self) -> dict[str, Any]:
        response = await self._http.get("/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def login(self, contact_id: str, name: str) -> None:
        await self.command("login", id=contact_id, name=name)

    async def contact(self, contact_id: str, name: str) -> None:
        await self.command("contact", id=contact_id, name=name)

    async def room(self, room_id: str, topic: str, members: dict[str, str]) -> None:
        """A room owned by the logged-in bot; ``members`` maps id -> room alias (群昵称)."""
        await self.command("room", id=room_id, topic=topic, members=members)

    async def say(self, talker: str, room: str, text: str) -> str:
        return str((await self.command("say", talker=talker, room=room, text=text))["messageId"])

    async def wait_state(
        self, condition: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            state = await self.state()
            if condition(state):
                return state
            if time.monotonic() > deadline:
                summary = {k: v for k, v in state.items() if k not in ("rpcs", "events")}
                raise AssertionError(f"gateway state not reached in {within}s: {summary}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_gateway(directory: Path, token: str, tls: bool = False) -> AsyncIterator[Gateway]:
    """The real gateway, installed if needed, started and always stopped."""
    node, npm = node_and_npm()
    ensure_installed(npm)
    gateway = Gateway(node, directory, token, tls=tls)
    try:
        await gateway.start()
        yield gateway
    finally:
        await gateway.close()


def rpc_names(state: dict[str, Any]) -> list[str]:
    return [str(r["path"]).rsplit("/", 1)[-1] for r in state["rpcs"]]


def sent_to(state: dict[str, Any], conversation_id: str) -> list[dict[str, Any]]:
    return [s for s in state["sent"] if s["conversationId"] == conversation_id]

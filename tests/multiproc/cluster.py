"""Several real bot processes sharing one PostgreSQL and one Redis, for end-to-end tests.

Each node is ``python bot.py`` with its own config (port, log) and a fake
NapCat (``tests/e2e/onebot_client.FakeOneBot``) logged in as its own QQ
account. :meth:`Cluster.deliver` sends the same group event to any subset of
the accounts, as QQ does when several of our accounts are in one group.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.onebot_client import Call, FakeOneBot, SimGroup, free_port, running_bot, write_config

TOKEN = "cluster-secret"


def node_config(
    directory: Path,
    port: int,
    words: dict[str, list[str]],
    db_url: str,
    redis_url: str,
    redis_prefix: str = "",
    extra: str = "",
    db_timeout: str = "10s",
) -> Path:
    """A bot config on the shared database and Redis (else as the single-bot e2e tests)."""
    redis = f'\n[redis]\nurl = "{redis_url}"\nkey_prefix = "{redis_prefix}"\n' if redis_url else ""
    config = write_config(directory, port, TOKEN, words, extra + redis)
    database = f'url = "{db_url}"\ntimeout = "{db_timeout}"'
    text = re.sub(r'(?m)^url = "sqlite\+aiosqlite:.*"$', database, config.read_text("utf-8"))
    config.write_text(text, encoding="utf-8")
    return config


@dataclass
class Node:
    qq: FakeOneBot
    log: Path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


class Cluster:
    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes

    @property
    def calls(self) -> list[Call]:
        return [c for node in self.nodes for c in node.qq.calls]

    def marks(self) -> list[int]:
        return [len(node.qq.calls) for node in self.nodes]

    def since(self, marks: Sequence[int]) -> list[Call]:
        return [c for node, m in zip(self.nodes, marks, strict=True) for c in node.qq.calls[m:]]

    async def deliver(
        self,
        group: int,
        user: int,
        segments: list[dict[str, Any]],
        message_id: int,
        to: Sequence[int] | None = None,
    ) -> None:
        """One group message, delivered (at once) to the accounts of nodes ``to`` (default all)."""
        targets = [self.nodes[i] for i in (to if to is not None else range(len(self.nodes)))]
        await asyncio.gather(
            *(n.qq.send(n.qq.message(group, user, segments, message_id)) for n in targets)
        )

    async def wait_for(
        self, predicate: Callable[[Call], bool], marks: Sequence[int], within: float = 10.0
    ) -> Call:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for call in self.since(marks):
                if predicate(call):
                    return call
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no matching call within {within}s: {self.since(marks)}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_cluster(
    base: Path, accounts: Sequence[int], groups: Callable[[], list[SimGroup]], **config: Any
) -> AsyncIterator[Cluster]:
    """One bot process per account (started together), each with its fake NapCat connected."""
    async with contextlib.AsyncExitStack() as stack:
        ports, configs = [], []
        for account in accounts:
            directory = base / f"bot-{account}"
            directory.mkdir(parents=True, exist_ok=True)
            port = free_port()
            ports.append(port)
            configs.append(node_config(directory, port, **config))
        await asyncio.gather(
            *(
                stack.enter_async_context(running_bot(cfg, port, cfg.parent / "bot.log"))
                for cfg, port in zip(configs, ports, strict=True)
            )
        )
        nodes = []
        for account, port, cfg in zip(accounts, ports, configs, strict=True):
            url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
            qq = await stack.enter_async_context(FakeOneBot(url, account, TOKEN, groups()))
            nodes.append(Node(qq, cfg.parent / "bot.log"))
        yield Cluster(nodes)

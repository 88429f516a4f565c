"""The sweep of one ban across many QQ groups: the real bot against a fake NapCat.

    python -m bench.protection_sweep [--groups 50] [--members 500] [--runs 3] [--in-every 1.0]

One QQ account is an admin in ``--groups`` groups of ``--members`` members. A
member who is in a share ``--in-every`` of them (default: all) posts a critical
violation in the first group: the bot removes him there, bans him, and sweeps
the rest (it lists its groups, reads every member list a few at a time, removes
him where found, each removal verified by reading that list again). Printed:

- the sweep as the bot measures it (the ``ban #..`` log line: groups checked,
  removals, seconds), which is also the time the officers' report states;
- from the violation being sent to the last ``set_group_kick`` frame, and to the
  officer's report arriving (including the outbox's batch window, 1 s here);
- the OneBot calls the sweep made, and the bytes of member lists read.

Each run is a fresh bot process. Not a test: it prints figures. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.onebot_client import (
    Call,
    FakeOneBot,
    SimGroup,
    free_port,
    is_call,
    running_bot,
    text,
    write_config,
)

TOKEN = "bench-sweep"
BOT, OFFICER, SPAMMER = 10000, 90001, 2_000_000
FIRST_GROUP = 600_000
WORDS = {"politics": ["测试政治"]}
LOG_LINE = re.compile(
    r"ban #\d+ of \S+: (\d+) group\(s\) checked, (\d+) removal\(s\) in ([\d.]+) s"
)


@dataclass
class Run:
    checked: int
    removed: int
    bot_seconds: float
    to_last_kick: float
    to_report: float
    calls: int
    list_calls: int


def groups(count: int, members: int, in_every: float) -> list[SimGroup]:
    sims = []
    every = max(1, round(1 / in_every)) if in_every > 0 else count + 1
    for n in range(count):
        sim = SimGroup(FIRST_GROUP + n, f"单位工作群{n}")
        sim.add(BOT, "admin", "群卫士")
        sim.add(1_000_000 + n, "owner", "群主")
        for user in range(members - 2 - 1):
            uid = 1_100_000 + user
            sim.add(uid, "member", f"成员{user}+办公室")
        if n == 0 or n % every == 0:
            sim.add(SPAMMER, "member", "广告+办公室")
        sims.append(sim)
    return sims


async def one_run(args: argparse.Namespace, directory: Path) -> Run:
    port = free_port()
    config = write_config(directory, port, TOKEN, WORDS)
    log = directory / "bot.log"
    async with running_bot(config, port, log):
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        sims = groups(args.groups, args.members, args.in_every)
        expected = sum(1 for s in sims if SPAMMER in s.members)
        async with FakeOneBot(url, BOT, TOKEN, sims) as qq:
            # the bot learns its role in the first group from an ordinary message
            await qq.send(qq.message(FIRST_GROUP, 1_100_000, text("早上好"), 1))
            await qq.wait_for(is_call("get_group_member_info", user_id=BOT))
            await qq.quiet(0.5)
            mark = len(qq.calls)
            sent = time.perf_counter()
            await qq.send(qq.message(FIRST_GROUP, SPAMMER, text("测试政治"), 2))

            def kicks() -> list[Call]:
                return [c for c in qq.calls[mark:] if c.action == "set_group_kick"]

            await qq.wait_for(lambda _: len(kicks()) >= expected, within=120, start=mark)
            last_kick = max(c.at for c in kicks()) - sent

            def reported(call: Call) -> bool:
                if not is_call("send_private_msg", user_id=OFFICER)(call):
                    return False
                return any("封禁名单" in s["data"].get("text", "") for s in call.params["message"])

            report = await qq.wait_for(reported, within=60, start=mark)
            await qq.quiet(0.5)
            calls = qq.calls[mark:]
    match = None
    for _ in range(50):  # the log line is written when the sweep ends
        match = LOG_LINE.search(log.read_text(encoding="utf-8", errors="replace"))
        if match:
            break
        await asyncio.sleep(0.1)
    assert match is not None, f"no sweep line in {log}"
    return Run(
        checked=int(match[1]),
        removed=int(match[2]),
        bot_seconds=float(match[3]),
        to_last_kick=last_kick,
        to_report=report.at - sent,
        calls=len(calls),
        list_calls=sum(c.action == "get_group_member_list" for c in calls),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-every", type=float, default=1.0)
    args = parser.parse_args()
    runs: list[Run] = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="gg-sweep-") as tmp:
            run = asyncio.run(one_run(args, Path(tmp)))
        runs.append(run)
        print(
            f"run {n + 1}: sweep {run.checked} groups, {run.removed} removals in "
            f"{run.bot_seconds:.2f} s (bot's measure); violation -> last kick "
            f"{run.to_last_kick:.2f} s, -> officer report {run.to_report:.2f} s; "
            f"{run.calls} OneBot calls ({run.list_calls} member lists)"
        )
    sweep = [r.bot_seconds for r in runs]
    print(
        f"{args.groups} groups x {args.members} members, member in {runs[0].removed + 1}: "
        f"sweep median {statistics.median(sweep):.2f} s (min {min(sweep):.2f}, "
        f"max {max(sweep):.2f}) over {len(runs)} run(s)"
    )


if __name__ == "__main__":
    main()

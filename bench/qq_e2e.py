"""QQ end to end under load: the real bot in a subprocess, a fake NapCat pushing a mixed stream.

    python -m bench.qq_e2e [--duration 5] [--rate 2500] [--violations 0.1]

The client paces group messages at ``--rate`` events/s for ``--duration``
seconds across 20 groups of 100 members (mostly clean chat, a share of banned
words), answers every API call, and reports:

- events/s handled: events sent / time until the last violation got its first
  action frame (every event goes through the same pipeline, so a bot that
  falls behind shows up here and in the latencies);
- p50/p99 ms from a violation being sent to its first action frame (delete_msg).

Target on the reference machine: >= 2,000 events/s with p99 < 50 ms.
Not a test: it prints figures. Loopback only; the bot process is always killed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.onebot_client import (
    Call,
    FakeOneBot,
    SimGroup,
    free_port,
    running_bot,
    text,
    write_config,
)

TOKEN = "bench-secret"
BOT = 10000
GROUPS = 20
MEMBERS = 100
WORDS = {"insult": ["测试脏话"], "gambling": ["测试赌局"]}
CLEAN = [
    "收到，谢谢",
    "明天上午九点在三楼会议室开会",
    "请大家按时提交周报",
    "好的，我来处理",
    "这个文件我已经发到邮箱了",
    "下午的培训改到四点",
    "辛苦了",
    "请各位核对一下名单",
]
EXTRA = """
[flood]
rate_limit = 0
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(duration: float, rate: float, share: float, seed: int) -> int:
    rng = random.Random(seed)
    groups = [SimGroup(900_000 + g) for g in range(GROUPS)]
    for sim in groups:
        sim.add(BOT, "admin", "群卫士+办公室")
        for m in range(MEMBERS):
            sim.add(100_000 + m, "member", f"成员+办公室{m}")
    with tempfile.TemporaryDirectory(prefix="groupguard-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        config = write_config(directory, port, TOKEN, WORDS, EXTRA)
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        async with (
            running_bot(config, port, directory / "bot.log"),
            FakeOneBot(url, BOT, TOKEN, groups) as qq,
        ):
            sent_at: dict[int, float] = {}
            latency: dict[int, float] = {}
            last_action = 0.0

            def on_call(call: Call) -> None:
                nonlocal last_action
                if call.action == "delete_msg":
                    mid = int(call.params["message_id"])
                    if mid in sent_at and mid not in latency:
                        latency[mid] = call.at - sent_at[mid]
                        last_action = max(last_action, call.at)

            qq.on_call = on_call
            # warm-up, not measured: every member speaks once, so the bot has learnt its role
            # in each group and recorded each member (first sight is a database write)
            n = 0
            for sim in groups:
                for m in range(MEMBERS):
                    n += 1
                    await qq.send(qq.message(sim.group_id, 100_000 + m, text("早"), n))
                    if n % 50 == 0:
                        await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)

            message_id = 10_000
            events = violations = 0
            tick = 0.01
            per_tick = rate * tick
            start = time.perf_counter()
            owed = 0.0
            while (now := time.perf_counter()) - start < duration:
                owed += per_tick
                while owed >= 1:
                    owed -= 1
                    message_id += 1
                    sim = groups[rng.randrange(GROUPS)]
                    user = 100_000 + rng.randrange(MEMBERS)
                    if rng.random() < share:
                        word = rng.choice(["测试脏话", "测试赌局"])
                        body = f"{rng.choice(CLEAN)}{word}{message_id}"
                        violations += 1
                        sent_at[message_id] = time.perf_counter()
                    else:
                        body = f"{rng.choice(CLEAN)} {message_id}"
                    await qq.send(qq.message(sim.group_id, user, text(body), message_id))
                    events += 1
                next_tick = now + tick
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
            sent_for = time.perf_counter() - start
            deadline = time.monotonic() + 30
            while len(latency) < violations and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            answered = len(latency)
            elapsed = max(last_action, start + sent_for) - start
            lat_ms = [v * 1000 for v in latency.values()]
        if answered < violations:  # show why, before the temporary directory goes
            log_tail = (directory / "bot.log").read_text(errors="replace").splitlines()[-15:]
            print("bot log (last lines):", *log_tail, sep="\n  ", file=sys.stderr)

    print("QQ end to end (real bot, OneBot v11 reverse WebSocket, loopback)")
    print(f"  sent:        {events} events in {sent_for:.2f} s (target rate {rate:.0f}/s)")
    print(f"  violations:  {violations} ({answered} got an action frame)")
    print(f"  handled:     {events / elapsed:,.0f} events/s")
    if lat_ms:
        print(
            f"  latency:     p50 {statistics.median(lat_ms):.1f} ms, "
            f"p99 {percentile(lat_ms, 0.99):.1f} ms, max {max(lat_ms):.1f} ms "
            "(violation sent -> first action frame)"
        )
    ok = (
        answered == violations
        and events / elapsed >= 2000
        and lat_ms
        and percentile(lat_ms, 0.99) < 50
    )
    print(f"  target (>= 2,000 events/s, p99 < 50 ms): {'met' if ok else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=2500.0, help="events per second to send")
    parser.add_argument("--violations", type=float, default=0.1, help="share of violations")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return asyncio.run(run(args.duration, args.rate, args.violations, args.seed))


if __name__ == "__main__":
    sys.exit(main())

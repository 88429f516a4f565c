"""Hostile-input figures: ``.venv/bin/python -m bench.hostile`` (not a test; prints numbers).

The tests in ``tests/hostile`` assert bounded *work* (text cut before the
detectors, card search steps) and allocated memory; this prints the time it
takes, which depends on the machine and its load:

- the whole engine (default word lists, in-memory store, nickname check on)
  per message, over the same generated hostile texts the tests use (worst,
  99th percentile, median), and over fixed 1 MB shapes (best of 3 and the
  spread, and the peak memory allocated while handling one);
- judging a group card, worst case over card formats and adversarial cards;
- the offline scan of one 1 MB JSONL line.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, given, settings

from rules.config import NicknameSettings, parse_config
from rules.core.model import MAX_NAME, ChatEvent, EventKind, Member, Platform
from rules.detectors.nickname.cards import CardRules
from rules.offline.scan import scan_lines
from rules.runtime import MEMORY_URL, Runtime
from tests.fakes import Clock, FakeGateway
from tests.hostile.strategies import MEGABYTE_TEXTS, hostile_text

EXAMPLES = int(os.environ.get("HOSTILE_BENCH_EXAMPLES", "400"))
CONFIG = parse_config(
    {
        "escalation": {"officers": ["qq:90001"]},
        "ladder": {"escalate_from_step": 1},
        "nickname": {"enabled": True, "format": "{name}+{dept}"},
    }
)
CARD_FORMATS = [
    "{name}+{dept}",
    "{name}+{dept}+{subject}",
    "{child}{relation}+{name}",
    "{dept}{name}{subject}{relation}{child}",
]


def generated_texts(count: int) -> list[str]:
    """The first ``count`` texts the tests' strategy generates (reproducible)."""
    texts: list[str] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_text())
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    return texts


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """(best, spread) wall-clock seconds of ``runs`` runs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), max(times) - min(times)


async def engine_figures() -> None:
    clock = Clock()
    runtime = await Runtime.start(CONFIG, MEMORY_URL, clock=clock)
    gateway = FakeGateway()
    serial = iter(range(10**9))

    def chat(text: str, user: int) -> ChatEvent:
        clock.advance(timedelta(seconds=7))
        return ChatEvent(
            kind=EventKind.MESSAGE,
            platform=Platform.QQ,
            group_id="qq:1001",
            member=Member(f"qq:{user}", card="张三+办公室"),
            time=clock(),
            text=text,
            message_id=f"m{next(serial)}",
        )

    texts = generated_texts(EXAMPLES)
    sizes = sorted(len(t) for t in texts)
    times = []
    for n, text in enumerate(texts):
        start = time.perf_counter()
        await runtime.engine.handle(chat(text, 2000 + n % 7), gateway)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"engine, {len(texts)} generated hostile texts (longest {sizes[-1]:,} chars):")
    p99 = times[int(len(times) * 0.99)]
    print(
        f"  per message: worst {times[-1] * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms,"
        f" median {statistics.median(times) * 1e3:.2f} ms"
    )
    print("engine, fixed 1 MB messages (best of 3, spread; peak allocated while handling):")
    for name, text in MEGABYTE_TEXTS.items():
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            await runtime.engine.handle(chat(text, 3000), gateway)
            runs.append(time.perf_counter() - start)
        tracemalloc.start()
        await runtime.engine.handle(chat(text, 3001), gateway)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  {name:<13} {min(runs) * 1e3:7.1f} ms (+{(max(runs) - min(runs)) * 1e3:.1f}),"
            f" peak {peak / 1e6:.2f} MB"
        )

    line = json.dumps(
        {"id": "1", "platform": "qq", "group": "1", "user": "2", "text": MEGABYTE_TEXTS["mixed"]},
        ensure_ascii=False,
    )
    scan_runtime = await Runtime.start(CONFIG, MEMORY_URL, dry_run=True)
    start = time.perf_counter()
    await scan_lines(scan_runtime, [line])
    print(f"scan, one 1 MB line: {(time.perf_counter() - start) * 1e3:.1f} ms")
    await scan_runtime.close()
    await runtime.close()


def card_figures() -> None:
    cards = ["张" * MAX_NAME, "（" * MAX_NAME, "a" * MAX_NAME, "张三+" * (MAX_NAME // 3)]
    worst, which = 0.0, ""
    for fmt in CARD_FORMATS:
        for card in cards:
            rules = CardRules(NicknameSettings(enabled=True, format=fmt, departments=["办公室"]))
            best, _ = best_of(3, lambda r=rules, c=card: r._diagnose(c))
            if best > worst:
                worst, which = best, f"{fmt} on {card[:4]}…"
    print(f"cards: worst judgement of a {MAX_NAME}-character card {worst * 1e3:.1f} ms ({which})")


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    asyncio.run(engine_figures())
    card_figures()


if __name__ == "__main__":
    main()

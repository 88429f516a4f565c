"""Offline scan throughput: ``.venv/bin/python -m bench.scan [--lines 2000] [--rounds 3]``.

Not a test: it prints figures. The input is a generated JSONL chat over 20
groups of 100 members: corpus messages (``../shared`` when present, else
generated text), one line in ten with a word from the shipped lists, and a few
repeated messages (flood). It is scanned with the default config through
:func:`rules.offline.scan.run_scan`, the ``scan`` command's body:

- state in memory (no ``--db``), and
- ``--db`` on a SQLite file (a fresh one each round).

Each figure is of the scan itself: a run over ``--lines`` lines minus a run
over none (start-up: config, word automaton, migrations), best of ``--rounds``;
as lines per second of wall time, and per second of this process's CPU time
(all threads: on a machine shared with other work, the figure for one core).
Both runs must write the same output, line for line; the bench says so.

Before the store became repositories (commit b55fed5, same machine): 2,000 lines in
12.2 s wall for 2.0 s CPU, about 165 lines/s in memory and with ``--db``: every
line waited alone for the store's group commit.
Targets: >= 5,000 lines/s in memory, >= 2,000 lines/s with ``--db`` on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from bench.filter import load_corpus
from rules.config import load_config
from rules.core.paths import PROJECT_ROOT
from rules.offline.scan import run_scan

GROUPS = 20
MEMBERS = 100
VIOLATIONS = 0.1
REPEATS = 0.03
SEED = 7


def banned_words() -> list[str]:
    """A few words of each shipped list (the categories a real scan meets)."""
    words: list[str] = []
    for path in sorted((PROJECT_ROOT / "data" / "keywords").glob("*.txt")):
        terms = [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        words.extend(terms[:: max(1, len(terms) // 5)][:5])
    return words


def chat(lines: int) -> str:
    """``lines`` JSONL scan lines, the same for the same count (a fixed seed)."""
    rng = random.Random(SEED)
    corpus = load_corpus()
    words = banned_words()
    out: list[str] = []
    last: dict[tuple[int, int], str] = {}
    start = 1_793_000_000.0
    for n in range(lines):
        group, user = rng.randrange(GROUPS), rng.randrange(MEMBERS)
        roll = rng.random()
        if roll < REPEATS and (group, user) in last:
            text = last[(group, user)]
        elif roll < REPEATS + VIOLATIONS:
            text = rng.choice(corpus)[:12] + rng.choice(words)
        else:
            text = rng.choice(corpus)
        last[(group, user)] = text
        record = {
            "id": str(n),
            "platform": "qq",
            "group": str(1000 + group),
            "user": str(20000 + group * MEMBERS + user),
            "card": "",
            "text": text,
            "time": start + n * 0.5,
        }
        out.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(out) + "\n"


async def one_run(source: str, db: Path | None) -> tuple[float, float, str]:
    """(wall, cpu) seconds of one scan and its output."""
    config, _ = load_config(PROJECT_ROOT / "config.example.toml")
    sink = io.StringIO()
    url = f"sqlite+aiosqlite:///{db}" if db is not None else None
    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    await run_scan(config, io.StringIO(source), sink, url)
    after = resource.getrusage(resource.RUSAGE_SELF)
    spent = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return time.perf_counter() - wall, spent, sink.getvalue()


async def measure(
    source: str, rounds: int, with_db: bool
) -> tuple[tuple[float, float], tuple[float, float], str]:
    """Best (wall, cpu) of ``rounds`` scans of ``source``, of start-ups, and the output."""
    best = [float("inf"), float("inf")]
    startup = [float("inf"), float("inf")]
    output = ""
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "empty.db" if with_db else None
            wall, cpu, _ = await one_run("", db)
            startup = [min(startup[0], wall), min(startup[1], cpu)]
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "scan.db" if with_db else None
            wall, cpu, output = await one_run(source, db)
            best = [min(best[0], wall), min(best[1], cpu)]
    return (best[0], best[1]), (startup[0], startup[1]), output


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source = chat(args.lines)
    outputs = []
    print(f"scan of {args.lines} lines (default config), best of {args.rounds}")
    for label, with_db in (("memory", False), ("--db sqlite", True)):
        (wall, cpu), (startup_wall, startup_cpu), output = await measure(
            source, args.rounds, with_db
        )
        outputs.append(output)
        per_wall = args.lines / max(wall - startup_wall, 1e-9)
        per_cpu = args.lines / max(cpu - startup_cpu, 1e-9)
        flagged = sum(bool(json.loads(line)["findings"]) for line in output.splitlines())
        print(
            f"  {label:<12} {per_wall:>8,.0f} lines/s wall {per_cpu:>8,.0f} lines/CPU-s"
            f"  (run {wall:.2f} s wall, {cpu:.2f} s CPU; start-up {startup_wall:.2f} s"
            f" wall, {startup_cpu:.2f} s CPU; {flagged} flagged)"
        )
    same = outputs[0] == outputs[1]
    print(f"  memory and --db outputs identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    asyncio.run(main())

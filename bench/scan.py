"""Offline scan throughput: ``.venv/bin/python -m bench.scan [--lines 2000] [--rounds 3]``.

Not a test: it prints figures. The input is a generated JSONL chat over 20
groups of 100 members: corpus messages (``../shared`` when present, else
generated text), one line in ten with a word from the shipped lists, and a few
repeated messages (flood). It is scanned with the default config on the
``scan`` command's runtime (:func:`rules.offline.scan.scan_runtime`):

- state in memory (no ``--db``: a throw-away database), and
- ``--db`` on a SQLite file (a fresh one each round).

Each figure is of the scan itself: from the first line to the last write landed
(:func:`~rules.offline.scan.scan_lines` and closing the runtime), start-up
(config, word automaton, migrations) apart; best of ``--rounds``. As lines per
second of wall time, and per second of this process's CPU time (all threads:
on a machine shared with other work, the figure for one core). Both modes must
write the same output, line for line; the bench says so.

Before (commit b55fed5, the store's group commit on every line): the issue measured
2,000 lines in 12.2 s wall for 2.0 s CPU (about 165 lines/s); this bench on that
commit, same machine: 210 lines/s in memory and 219 with ``--db``, about 1,200
lines/CPU-s; every line waited alone for a commit.
Targets: >= 5,000 lines/s in memory, >= 2,000 lines/s with ``--db`` on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from bench.filter import load_corpus
from rules.config import load_config
from rules.core.paths import PROJECT_ROOT
from rules.offline.scan import scan_lines, scan_runtime

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


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def one_run(source: str, db: Path | None) -> tuple[float, float, float, str]:
    """(start-up wall, scan wall, scan CPU) seconds of one scan, and its output."""
    config, _ = load_config(PROJECT_ROOT / "config.example.toml")
    url = f"sqlite+aiosqlite:///{db}" if db is not None else None
    started = time.perf_counter()
    runtime = await scan_runtime(config, url)
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        records = await scan_lines(runtime, source.splitlines())
    finally:
        await runtime.close()  # the batched writes land here
    spent_wall, spent_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    output = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return wall - started, spent_wall, spent_cpu, output


async def measure(source: str, rounds: int, with_db: bool) -> tuple[float, float, float, str]:
    """Best start-up wall, scan wall and scan CPU of ``rounds`` scans, and the output."""
    best = [float("inf")] * 3
    output = ""
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "scan.db" if with_db else None
            *figures, output = await one_run(source, db)
            best = [min(b, f) for b, f in zip(best, figures, strict=True)]
    return best[0], best[1], best[2], output


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source = chat(args.lines)
    outputs = []
    print(f"scan of {args.lines} lines (default config), best of {args.rounds}")
    for label, with_db in (("memory", False), ("--db sqlite", True)):
        startup, wall, cpu, output = await measure(source, args.rounds, with_db)
        outputs.append(output)
        flagged = sum(bool(json.loads(line)["findings"]) for line in output.splitlines())
        print(
            f"  {label:<12} {args.lines / wall:>8,.0f} lines/s wall"
            f" {args.lines / cpu:>8,.0f} lines/CPU-s"
            f"  ({wall:.2f} s wall, {cpu:.2f} s CPU; start-up {startup:.2f} s; {flagged} flagged)"
        )
    same = outputs[0] == outputs[1]
    print(f"  memory and --db outputs identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    asyncio.run(main())

"""The "before" column of ``make bench-filter``: the same figures from an earlier commit's code.

The earlier tree is taken with ``git archive`` into a temporary folder (beside
a link to ``../shared``, as the bench expects) and measured there in a fresh
interpreter, within the same bench run, on the same machine and inputs (its
timings in CPU time of the process, as ours): the
synthetic evasion cases and corpora are handed over as JSON, and the old
tree's own ``bench.filter`` helpers (its ``timed``, event makers and engine
set-up) time its detectors. The old code has no ``how``/``strength``: its
findings count as ``homophone`` when their detail says "sounds alike", else
``direct``.

``BEFORE`` is the last commit before issue 19's detector work; ``--before REF``
picks another, ``--before none`` skips the column.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "7d00fcf"

# Runs inside the old tree: uses only what its bench.filter and rules offered then.
_SCRIPT = r"""
import time
time.perf_counter, time.perf_counter_ns = time.process_time, time.process_time_ns  # as ours
import asyncio, json, sys
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
import bench.filter as old
from rules.config import Config, KeywordSettings
from rules.detectors.keyword import KeywordDetector, TermIndex, Term, expand_globs

data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
out = {}
config = Config()
index = TermIndex.from_files(expand_globs(config.keywords.files), cache_dir=Path("data/cache"))
keyword = KeywordDetector(index)
out["terms"] = index.size

def kind(f):
    return "homophone" if "sounds alike" in f.detail else "direct"

corpora = {}
for name, lines in data["corpora"].items():
    flagged, by_cat, by_how = 0, Counter(), Counter()
    for text in lines:
        found = keyword.check(old.event(text), config.keywords)
        flagged += bool(found)
        for c in {f.category for f in found}:
            by_cat[c] += 1
        for f in found:
            by_how[kind(f)] += 1
    corpora[name] = {"messages": len(lines), "flagged": flagged, "by_category": by_cat,
                     "by_how": by_how}
out["corpora"] = corpora

cases = data["cases"]
terms = sorted({(t, c) for t, c in data["terms"]})
synthetic = KeywordDetector(TermIndex([Term(t, c) for t, c in terms]))
recall = {}
settings = KeywordSettings()
for evasion, text, start, end, category in cases:
    row = recall.setdefault(evasion, [0, 0])
    row[0] += 1
    row[1] += any((f.start, f.end, f.category) == (start, end, category)
                  for f in synthetic.check(old.event(text), settings))
out["recall"] = recall

if old.CASES.exists():
    rows = [json.loads(l) for l in old.CASES.read_text(encoding="utf-8").splitlines() if l]
    exact = hit = want_total = 0
    allows = {}
    for case in rows:
        found = old.case_findings(case, old.case_allow(case, allows))
        got = Counter(case["text"][f.start : f.end] for f in found)
        want = Counter(case["expect_hits"])
        want_total += sum(want.values())
        hit += sum((got & want).values())
        exact += got == want
    out["public"] = [exact, len(rows), hit, want_total]

if data["timing"]:
    words, path, real = old.big_words()
    big = KeywordDetector(TermIndex.from_files([path], cache_dir=Path("data/cache")))
    texts = old.thirty_char(old.load_corpus())
    events = [old.event(t) for t in texts]
    t = old.timed(lambda ev: big.check(ev, settings), events)
    out["keyword"] = [t.best, t.worst, t.undisturbed, t.p50, t.p99]
    engine_config = old.engine_config([str(path)])
    runtime = asyncio.run(old.Runtime.start(engine_config, old.MEMORY_URL, dry_run=True))
    evs = old.engine_events(texts)
    detect = lambda ev: runtime.engine.detect(ev, engine_config.policy_for(ev.group_id))
    t = old.timed(detect, evs, fresh=True)
    out["detect"] = [t.best, t.worst, t.undisturbed, t.p50, t.p99]
    asyncio.run(runtime.close())
print("BEFORE-JSON " + json.dumps(out, ensure_ascii=False))
"""


def before_figures(
    ref: str,
    cases: list[tuple[str, str, int, int, str]],
    terms: list[tuple[str, str]],
    corpora: dict[str, list[str]],
    timing: bool,
) -> dict[str, object] | None:
    """The old tree's figures as a dict, or None (with a line saying why) if it cannot run."""
    folder = Path(tempfile.mkdtemp(prefix="bench-before-"))
    tree = folder / "main"
    tree.mkdir()
    try:
        shared = ROOT.parent / "shared"
        if shared.exists():
            (folder / "shared").symlink_to(shared)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        cache = tree / "data" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        for pickle in (ROOT / "data" / "cache").glob("*.pickle"):
            shutil.copy(pickle, cache / pickle.name)  # versioned names: only its own are read
        data = folder / "input.json"
        payload = {"cases": cases, "terms": terms, "corpora": corpora, "timing": timing}
        data.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(tree))
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(data)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"   (before: {ref} could not be measured: {exc})")
        shutil.rmtree(folder, ignore_errors=True)
        return None
    try:
        for line in done.stdout.splitlines():
            if line.startswith("BEFORE-JSON "):
                result: dict[str, object] = json.loads(line[len("BEFORE-JSON ") :])
                return result
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        print(f"   (before: {ref} gave no figures: {' / '.join(tail)})")
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)

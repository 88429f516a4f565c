"""Content-filter benchmark and quality report: ``make bench-filter``.

Throughput (one core): (a) the keyword detector with every normalisation on,
over the 65k-word list, and the two baselines people use today (a per-word
substring loop, one regex alternation) on a subset, as ratios; (b) the whole
detection pipeline with every detector on. Also: automaton build time, cached
load time, a cold start in a fresh interpreter, and resident memory.

Quality, with the shipped default lists: share of corpus messages flagged, the
top 20 triggering terms, and recall on the public filter cases (cases whose
note assumes a library setting we do not support are listed apart).

Without ``../shared`` (the lexicons and corpus) a generated corpus and word
list stand in, and the quality part is skipped.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rules.config import Config, KeywordSettings, LinkSettings, PiiSettings
from rules.detectors.keyword import KeywordDetector, expand_globs
from rules.detectors.keyword_index import ALLOW, Term, TermIndex
from rules.detectors.link import LinkDetector
from rules.detectors.pii import PiiDetector
from rules.model import ChatEvent, EventKind, Finding, Member, Platform
from rules.runtime import build_detectors

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
BIG_LIST = SHARED / "lexicons" / "houbb-sensitive-word" / "dict_v20240407.txt"
CORPUS = SHARED / "corpus" / "nus_sms_zh_messages.txt"
CASES = SHARED / "filter_cases.public.jsonl"
MESSAGE_LEN = 30
BASELINE_SUBSET = 200


def event(text: str, group: str = "qq:1") -> ChatEvent:
    return ChatEvent(
        EventKind.MESSAGE, Platform.QQ, group, Member("qq:2"), datetime.now(UTC), text=text
    )


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_corpus(n: int = 20000) -> list[str]:
    rng = random.Random(7)
    common = (
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
        "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"
        "二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
        "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变"
        "条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
        "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
        "几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器"
        "压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安"
        "场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集"
        "温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连"
        "断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精"
        "值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属"
        "圆包火住调满县局照参红细引听该铁价严"
    )
    out = []
    for _ in range(n):
        length = rng.randint(8, 40)
        out.append("".join(rng.choice(common) for _ in range(length)))
    return out


def load_corpus() -> list[str]:
    if CORPUS.exists():
        return [
            line.strip() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    return generated_corpus()


def thirty_char(messages: list[str], n: int = 20000) -> list[str]:
    """Messages of about 30 characters: corpus messages joined and cut."""
    stream = "".join(messages)
    return [
        stream[i : i + MESSAGE_LEN]
        for i in range(0, min(len(stream), n * MESSAGE_LEN), MESSAGE_LEN)
    ]


def timed(fn: Callable[[str], object], texts: list[str]) -> tuple[float, float, float]:
    """(messages/s over a plain loop, p50 µs, p99 µs from per-call timing)."""
    start = time.perf_counter()
    for text in texts:
        fn(text)
    rate = len(texts) / (time.perf_counter() - start)
    samples = []
    clock = time.perf_counter_ns
    for text in texts:
        t0 = clock()
        fn(text)
        samples.append((clock() - t0) / 1000)
    samples.sort()
    return rate, samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def big_words() -> tuple[list[str], Path, bool]:
    if BIG_LIST.exists():
        return normalize_lines(BIG_LIST.read_text(encoding="utf-8")), BIG_LIST, True
    rng = random.Random(3)
    pool = generated_corpus(70000)
    words = list(dict.fromkeys(w[: rng.randint(2, 5)] for w in pool))[:65000]
    path = Path(tempfile.mkdtemp()) / "generated.txt"
    path.write_text("\n".join(words), encoding="utf-8")
    return words, path, False


def normalize_lines(text: str) -> list[str]:
    return [t for line in text.splitlines() if (t := line.strip())]


def performance(corpus: list[str]) -> None:
    words, path, real = big_words()
    print(f"== performance ({'65k houbb list' if real else 'generated 65k list'}, one core)")
    rss0 = rss_mb()
    t0 = time.perf_counter()
    index = TermIndex.from_files([path], cache_dir=None)
    build = time.perf_counter() - t0
    cache_dir = Path(tempfile.mkdtemp())
    TermIndex.from_files([path], cache_dir=cache_dir)  # writes the cache
    t0 = time.perf_counter()
    TermIndex.from_files([path], cache_dir=cache_dir)
    cached = time.perf_counter() - t0
    cold = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter();"
            "from pathlib import Path;"
            "from rules.detectors.keyword import KeywordDetector, TermIndex;"
            f"KeywordDetector(TermIndex.from_files([Path({str(path)!r})],"
            f" Path({str(cache_dir)!r})));"
            "print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    print(f"terms {index.size}; automaton keys {index.keys}")
    print(
        f"build {build:.2f} s; cached load {cached:.3f} s; "
        f"cold start (fresh interpreter, imports + cached load) {float(cold.stdout):.2f} s; "
        f"RSS growth {rss_mb() - rss0:.0f} MB (max RSS {rss_mb():.0f} MB)"
    )

    detector = KeywordDetector(index)
    settings = KeywordSettings()
    texts = thirty_char(corpus)
    events = [event(t) for t in texts]
    by_text = dict(zip(texts, events, strict=False))

    def run_keyword(text: str) -> object:
        return detector.check(by_text[text], settings)

    rate, p50, p99 = timed(run_keyword, texts)
    print(
        f"(a) keyword, all normalisation on, {len(texts)} msgs of {MESSAGE_LEN} chars: "
        f"{rate:,.0f} msgs/s, p50 {p50:.1f} µs, p99 {p99:.1f} µs"
    )

    subset = texts[:BASELINE_SUBSET]
    lowered = [w.lower() for w in words]

    def loop(text: str) -> object:
        low = text.lower()
        return [w for w in lowered if w in low]

    t0 = time.perf_counter()
    pattern = re.compile("|".join(re.escape(w) for w in sorted(lowered, key=len, reverse=True)))
    compile_s = time.perf_counter() - t0

    def regex(text: str) -> object:
        return pattern.findall(text.lower())

    loop_rate, _, _ = timed(loop, subset)
    regex_rate, _, _ = timed(regex, subset)
    print(
        f"baselines on {len(subset)} msgs: per-word loop {loop_rate:,.0f} msgs/s "
        f"(ours x{rate / loop_rate:,.0f}); regex alternation {regex_rate:,.0f} msgs/s "
        f"(ours x{rate / regex_rate:,.0f}; compile {compile_s:.2f} s)"
    )

    from rules.engine import Engine

    config = Config()
    detectors = build_detectors(config)
    for i, det in enumerate(detectors):
        if isinstance(det, KeywordDetector):
            detectors[i] = detector  # type: ignore[call-overload]
    engine = Engine(config, detectors, store=None)  # type: ignore[arg-type]

    def run_engine(text: str) -> object:
        ev = by_text[text]
        return engine.detect(ev, config.policy_for(ev.group_id))

    rate, p50, p99 = timed(run_engine, texts)
    names = ", ".join(d.name for d in detectors)
    print(
        f"(b) engine detection, every detector on ({names}): "
        f"{rate:,.0f} msgs/s, p50 {p50:.1f} µs, p99 {p99:.1f} µs"
    )


_ALLOW_NOTE = re.compile(r"(?:wordAllow|allow)=\[([^\]]*)\]|allow\.txt=\[([^\]]*)\]")
# Notes naming settings that contradict ours (we always: skip noise, fold number forms,
# report all overlapping hits, match Latin as whole words, no leet or wildcards).
UNSUPPORTED = {
    "failFast=true": "we report every overlapping hit (longest and shortest)",
    "wordFailFast=true": "we report every overlapping hit (longest and shortest)",
    "alwaysTrue": "Latin terms match whole words only",
    "englishWordMatch: digits are not boundary-checked": "digit terms match whole numbers",
    "ignoreNumStyle=false": "number forms are always folded",
    "charIgnore=none": "noise characters are always skipped",
    "enableNumCheck": "we flag phone/ID/bank numbers (validated), not any digit run",
    "numCheckLen": "we flag phone/ID/bank numbers (validated), not any digit run",
    "wordTags": "category filtering is the ladder's job, not a match condition",
    "wildcard": "no wildcard terms",
    "leet": "no leetspeak folding of digits into letters",
    "ML (": "no statistical classifier",
    "predict_prob": "no statistical classifier",
    "README caveat": "no statistical classifier",
    "plain StringSearch": "no plain substring mode",
    "SetSkipWords": "the noise set is fixed",
    "IssuesTest_20, IllegalWordsSearch": "single letters between digits count as words here",
    "custom list replaces": "case harness limitation",
    "urlNoPrefix": "the scheme is part of the reported link",
    "removeWord": "case harness limitation",
}


def case_findings(case: dict[str, object]) -> list[Finding]:
    words = [str(w) for w in case["words"]]  # type: ignore[attr-defined]
    note = str(case.get("note", ""))
    allow: list[str] = []
    for m in _ALLOW_NOTE.finditer(note):
        allow += re.findall(r"'([^']+)'", m.group(1) or m.group(2) or "")
    ev = event(str(case["text"]))
    if words:
        index = TermIndex([Term(w, "case") for w in words] + [Term(a, ALLOW) for a in allow])
        return KeywordDetector(index).check(ev, KeywordSettings())
    found = LinkDetector().check(ev, LinkSettings()) + PiiDetector().check(ev, PiiSettings())
    return found


def recall_report() -> None:
    if not CASES.exists():
        print("== public cases: ../shared absent, skipped")
        return
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]
    ok = expected = found_hits = 0
    supported = supported_ok = 0
    failures: list[str] = []
    for case in cases:
        findings = case_findings(case)
        got = Counter(case["text"][f.start : f.end] for f in findings)
        want = Counter(case["expect_hits"])
        expected += sum(want.values())
        found_hits += sum((got & want).values())
        passed = got == want
        ok += passed
        reason = next((why for key, why in UNSUPPORTED.items() if key in case["note"]), "")
        if not reason:
            supported += 1
            supported_ok += passed
        if not passed:
            failures.append(
                f"  {'[unsupported: ' + reason + '] ' if reason else ''}"
                f"{case['text'][:40]!r} want {sorted(want.elements())} got {sorted(got.elements())}"
            )
    print(
        f"== public cases ({len(cases)}): exact {ok}/{len(cases)}; "
        f"hit recall {found_hits}/{expected}"
    )
    print(f"   cases whose settings we support: exact {supported_ok}/{supported}")
    print("   cases not matched exactly:")
    print("\n".join(failures))


def corpus_report(corpus: list[str]) -> None:
    if not CORPUS.exists():
        print("== corpus: ../shared absent, skipped")
        return
    config = Config()
    keyword = KeywordDetector(TermIndex.from_files(expand_globs(config.keywords.files)))
    link, pii = LinkDetector(), PiiDetector()
    terms: Counter[str] = Counter()
    flagged_kw = flagged_all = 0
    for text in corpus:
        ev = event(text)
        hits = keyword.check(ev, config.keywords)
        rest = link.check(ev, config.links) + pii.check(ev, config.pii)
        flagged_kw += bool(hits)
        flagged_all += bool(hits or rest)
        for f in hits:
            terms[f"{f.category}:{f.detail}"] += 1
    n = len(corpus)
    print(
        f"== corpus ({n} messages), default lists ({keyword.index.size} terms): "
        f"keyword flags {flagged_kw} ({100 * flagged_kw / n:.2f}%); keyword+link+pii "
        f"{flagged_all} ({100 * flagged_all / n:.2f}%)"
    )
    print("   top 20 triggering terms: " + ", ".join(f"{t} x{c}" for t, c in terms.most_common(20)))


def main() -> None:
    corpus = load_corpus()
    if not CORPUS.exists():
        print("note: ../shared/data absent; using a generated corpus and word list")
    corpus_report(corpus)
    recall_report()
    performance(corpus)
    print(f"median message length in corpus: {statistics.median(len(m) for m in corpus)}")


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))
    main()

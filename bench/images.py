"""Image path benchmark: ``python -m bench.images`` (``make bench-images``); figures, not a test.

Pictures are generated (``tests/imagegen.py``): a 1080x1920 chat screenshot (PNG), a
1080x1527 poster with a QR code (JPEG q90), a 240x240 sticker (PNG with transparency)
and a 12-frame animated GIF sticker.

1. Per picture, one core, each stage apart: raw Pillow decode (the same-run
   baseline every stage is given as a ratio of), safe decode
   (``rules.images.decode``), QR (``rules.detectors.images.qr``), perceptual hashes
   (``rules.detectors.images.phash``), OCR and, when nudenet is installed, NSFW.
   Times are the calling thread's CPU time (every stage runs on one thread: OCR and
   NSFW are set to one onnxruntime and one OpenCV thread), so other processes on a
   shared machine do not inflate them; wall time is printed beside them.
2. Cold start of OCR (and NSFW) in a fresh interpreter: imports, model load, first
   picture; resident memory after each step.
3. Cache hit: the dict lookup by content hash that a repeated picture costs.
4. Memory: peak resident size of this process, and tracemalloc's peak of Python-side
   allocations (numpy included, onnxruntime's own arena not) for one OCR read.
5. OCR tuning ladder (skip with ``--quick``): rapidocr-onnxruntime's defaults, then
   each lever of ``rules.detectors.images.ocr`` added in turn, on generated pictures
   with known Chinese phrases and URLs: p50/p99 per picture, phrase and character
   recall, per-kind p50.
6. Pools (skip with ``--quick``): how much of OCR's CPU time runs with the GIL
   released, and a pure-Python loop (a stand-in for the event loop) beside an OCR
   thread pool and beside an OCR process pool.

``--only SECTION`` (repeatable: stages, cold, cache, memory, ladder, pools) runs a part.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rules.detectors.images import nsfw
from rules.detectors.images.ocr import OcrEngine, OcrSettings, OcrText
from tests import imagegen

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 40  # timed calls per cheap stage and picture (after one warm-up call)
OCR_SAMPLES = 12  # OCR and NSFW are slower

try:  # the other image modules, built beside this benchmark
    from rules.detectors.images.phash import frame_hashes
    from rules.detectors.images.qr import read_codes
    from rules.images.decode import DecodedImage, decode_image
except ImportError:  # pragma: no cover - only while those modules do not exist yet
    decode_image = read_codes = frame_hashes = None  # type: ignore[assignment]
    DecodedImage = Any  # type: ignore[misc,assignment]


# -- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    cpu: list[float]  # seconds per call, thread CPU time
    wall: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.cpu) * 1000

    @property
    def p99(self) -> float:
        return percentile(self.cpu, 0.99) * 1000

    @property
    def wall_p50(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def rate(self) -> float:
        return len(self.cpu) / sum(self.cpu) if sum(self.cpu) else float("inf")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(fn: Callable[[], object], samples: int) -> Figure:
    fn()  # warm-up: lazy loads, first-run allocations
    cpu, wall = [], []
    for _ in range(samples):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return Figure(cpu, wall)


def rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- pictures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    name: str
    data: bytes
    size: tuple[int, int]


def pictures() -> list[Picture]:
    screenshot = imagegen.phone_screenshot()
    poster = imagegen.poster()
    (sticker,) = imagegen.sticker_frames("滚", seed=2)
    return [
        Picture("screenshot PNG", imagegen.png(screenshot), screenshot.size),
        Picture("poster+QR JPEG", imagegen.jpeg(poster), poster.size),
        Picture("sticker PNG", imagegen.png(sticker), sticker.size),
        Picture("sticker GIF x12", imagegen.sticker(frames=12, seed=2), sticker.size),
    ]


def pillow_decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- 1. stages -------------------------------------------------------------------------------


def stages(ocr: OcrEngine) -> None:
    classifier = nsfw.NsfwClassifier() if nsfw.installed() else None
    print("== per picture, one core: thread CPU ms p50 / p99, images/s, p50 as x Pillow decode")
    print(f"   ({SAMPLES} calls per cheap stage, {OCR_SAMPLES} for OCR and NSFW; wall p50 in [])")
    if decode_image is None:
        print("   TODO: rules.images.decode / qr / phash not importable: their rows are missing")
    for picture in pictures():
        print(
            f"-- {picture.name}, {picture.size[0]}x{picture.size[1]}, {len(picture.data):,} bytes"
        )
        base = measure(partial(pillow_decode, picture.data), SAMPLES)
        rows: list[tuple[str, Figure]] = [("Pillow decode (baseline)", base)]
        first: Image.Image = pillow_decode(picture.data).convert("RGB")
        if decode_image is not None:
            decoded = decode_image(picture.data)
            assert isinstance(decoded, DecodedImage), decoded
            first = decoded.first
            rows.append(("decode (safe)", measure(partial(decode_image, picture.data), SAMPLES)))
            rows.append(("QR", measure(partial(read_codes, decoded), SAMPLES)))
            rows.append(("hashes", measure(partial(frame_hashes, decoded), SAMPLES)))
        rows.append(("OCR", measure(partial(ocr.read, first), OCR_SAMPLES)))
        read = ocr.read(first)
        if classifier is not None:
            rows.append(("NSFW", measure(partial(classifier.classify, first), OCR_SAMPLES)))
        for name, fig in rows:
            print(
                f"   {name:26s} {fig.p50:7.1f} / {fig.p99:7.1f} ms  {fig.rate:8.1f}/s  "
                f"x{fig.p50 / base.p50:7.1f}  [{fig.wall_p50:.1f}]"
            )
        if isinstance(read, OcrText):
            shown = read.text.replace("\n", " / ")
            print(f"   OCR read: {shown[:70]!r}{' ...' if len(shown) > 70 else ''}")
    if classifier is None:
        print("   NSFW: nudenet not installed (optional), not measured")


# -- 2. cold start ---------------------------------------------------------------------------

COLD = r"""
import json, sys, time
from pathlib import Path
def rss():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20
out = {"rss_start": rss()}
t = time.perf_counter()
from rules.detectors.images.ocr import OcrEngine
from tests import imagegen
out["import_s"] = time.perf_counter() - t
shot = imagegen.phone_screenshot()
engine = OcrEngine()
t = time.perf_counter()
failure = engine.load()
out["load_s"] = time.perf_counter() - t
out["failure"] = str(failure) if failure else ""
out["rss_loaded"] = rss()
t = time.perf_counter(); engine.read(shot); out["first_s"] = time.perf_counter() - t
t = time.perf_counter(); engine.read(shot); out["second_s"] = time.perf_counter() - t
out["rss_read"] = rss()
from rules.detectors.images import nsfw
if nsfw.installed():
    c = nsfw.NsfwClassifier()
    t = time.perf_counter(); c.load(); out["nsfw_load_s"] = time.perf_counter() - t
    t = time.perf_counter(); c.classify(shot); out["nsfw_first_s"] = time.perf_counter() - t
    out["rss_nsfw"] = rss()
print(json.dumps(out))
"""


def cold_start() -> None:
    print("== cold start in a fresh interpreter (wall)")
    done = subprocess.run(
        [sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["failure"]:
        print(f"   OCR could not load: {out['failure']}")
        return
    print(
        f"   OCR: import {out['import_s'] * 1000:.0f} ms (numpy, Pillow, the generator), "
        f"model load {out['load_s'] * 1000:.0f} ms (OpenCV, onnxruntime, two sessions), "
        f"first screenshot {out['first_s'] * 1000:.0f} ms, second {out['second_s'] * 1000:.0f} ms"
    )
    print(
        f"   resident: {out['rss_start']:.0f} MB at start, {out['rss_loaded']:.0f} MB loaded, "
        f"{out['rss_read']:.0f} MB after two reads"
    )
    if "nsfw_load_s" in out:
        print(
            f"   NSFW: model load {out['nsfw_load_s'] * 1000:.0f} ms, first picture "
            f"{out['nsfw_first_s'] * 1000:.0f} ms, resident {out['rss_nsfw']:.0f} MB with both"
        )


# -- 3. cache hit ----------------------------------------------------------------------------


def cache_hit() -> None:
    print("== cache hit (a picture seen before)")
    data = pictures()[0].data
    rng = random.Random(5)
    cache = {hashlib.md5(rng.randbytes(16)).hexdigest(): None for _ in range(100_000)}
    md5 = hashlib.md5(data).hexdigest()
    cache[md5] = None
    lookups = 200_000
    t = time.perf_counter()
    for _ in range(lookups):
        _ = md5 in cache
    lookup_ns = (time.perf_counter() - t) / lookups * 1e9
    hashing = measure(lambda: hashlib.sha256(data).hexdigest(), 200)
    print(
        f"   dict lookup by a known key (QQ's file name is the MD5), 100,000 entries: "
        f"{lookup_ns:.0f} ns"
    )
    print(
        f"   SHA-256 of the {len(data):,}-byte screenshot PNG (when no file name is an MD5), "
        f"then the lookup: {hashing.p50 * 1000:.0f} µs p50"
    )


# -- 4. memory -------------------------------------------------------------------------------


def memory(ocr: OcrEngine) -> None:
    print("== memory")
    shot = imagegen.phone_screenshot()
    tracemalloc.start()
    ocr.read(shot)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"   one OCR read of the screenshot: {peak / 2**20:.1f} MB peak of Python-side "
        f"allocations (tracemalloc; onnxruntime's own buffers not included)"
    )
    print(f"   this process: {rss_mb():.0f} MB resident now, {peak_rss:.0f} MB peak")


# -- 5. OCR ladder ---------------------------------------------------------------------------

PHRASES = (
    "网络赌博",
    "加微信",
    "代开发票",
    "日赚千元",
    "兼职刷单",
    "扫码进群",
    "高额返利",
    "贷款秒批",
    "澳门首家",
    "真人荷官",
)
URLS = ("www.bet365-vip.com", "dk88.cc/reg", "wx.qq-vip.net", "t.cn/Ab3x9")
FILLER = (
    "今天下午三点在三楼会议室开会请大家准时参加会议内容包括季度总结和下阶段工作安排"
    "各部门负责人请提前准备好材料如有问题请联系行政部门谢谢配合本周五前提交报销单据"
    "新员工培训安排在下周一上午九点地点在一楼培训室请相关同事按时到场"
)


@dataclass
class Sample:
    kind: str
    image: Image.Image
    lines: list[str]  # the text drawn (ground truth for character recall)
    phrases: list[str] = field(default_factory=list)  # what the detectors must find


def _filler(rng: random.Random, n: int) -> str:
    start = rng.randrange(0, len(FILLER) - n)
    return FILLER[start : start + n]


def _planted(rng: random.Random, phrase: str, width: int) -> str:
    before = rng.randrange(0, width - len(phrase) + 1)
    return _filler(rng, before) + phrase + _filler(rng, width - len(phrase) - before)


def ladder_corpus() -> list[Sample]:
    rng = random.Random(11)
    out: list[Sample] = []
    for seed in range(8):
        title, body = rng.sample(PHRASES, 2)
        url = URLS[seed % len(URLS)]
        lines = [_planted(rng, body, 12), "官网 " + url, _filler(rng, 14)]
        out.append(
            Sample(
                "poster",
                imagegen.poster(title + "！", lines, qr_payload="https://" + url, seed=seed),
                [title, *lines, "长按识别二维码"],
                [title, body, url],
            )
        )
    for seed in range(8):
        chat = [_filler(rng, rng.randrange(4, 12)) for _ in range(7)]
        planted = rng.sample(range(7), 3)
        phrases = [rng.choice(PHRASES + URLS) for _ in planted]
        for at, phrase in zip(planted, phrases, strict=True):
            chat[at] = _planted(rng, phrase, max(len(phrase) + 2, min(16, len(chat[at]) + 4)))
        out.append(Sample("screenshot", imagegen.phone_screenshot(chat, seed=seed), chat, phrases))
    for _ in range(3):  # a page of small print: the recognition budget's case
        rows = [_filler(rng, 27) for _ in range(32)]
        phrases = rng.sample(PHRASES, 4)
        for at, phrase in zip(rng.sample(range(32), 4), phrases, strict=True):
            rows[at] = _planted(rng, phrase, 27)
        image = imagegen.text_image(rows, width=1080, font_size=36, margin=40)
        out.append(Sample("dense page", image, rows, phrases))
    for seed in range(2):  # a scrolling screenshot
        chat = [_filler(rng, rng.randrange(4, 14)) for _ in range(24)]
        phrases = rng.sample(PHRASES, 4)
        for at, phrase in zip(rng.sample(range(24), 4), phrases, strict=True):
            chat[at] = _planted(rng, phrase, len(phrase) + 4)
        image = imagegen.phone_screenshot(chat, size=(1080, 4800), seed=20 + seed)
        out.append(Sample("long screenshot", image, chat, phrases))
    for seed, word in enumerate(("加微信", "滚出去", "代开发票", "扫码进群")):
        (frame,) = imagegen.sticker_frames(word, seed=seed)
        out.append(Sample("sticker", frame, [word], [word]))
    for seed in range(3):
        out.append(Sample("photo", imagegen.photo(seed=seed, size=(1280, 960)), []))
    return out


def _recall(samples: Sequence[Sample], texts: Sequence[str]) -> tuple[int, int, float]:
    found = total = char_hits = char_total = 0
    for sample, text in zip(samples, texts, strict=True):
        flat = "".join(text.split()).lower()
        found += sum(p.lower() in flat for p in sample.phrases)
        total += len(sample.phrases)
        truth = Counter("".join("".join(sample.lines).split()).lower())
        seen = Counter(flat)
        char_hits += sum(min(n, seen[c]) for c, n in truth.items())
        char_total += sum(truth.values())
    return found, total, char_hits / max(char_total, 1)


def _rapidocr_defaults() -> Callable[[Image.Image], str]:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(image: Image.Image) -> str:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        result, _ = engine(bgr)
        return "\n".join(line[1] for line in result or [])

    return read


def _ours(settings: OcrSettings) -> Callable[[Image.Image], str]:
    engine = OcrEngine(settings)

    def read(image: Image.Image) -> str:
        result = engine.read(image)
        assert isinstance(result, OcrText), result
        return result.text

    return read


def _unbounded(**levers: Any) -> OcrSettings:
    return OcrSettings(max_boxes=10_000, rec_budget=10**9, **levers)


FULL = 4096 * 4096  # a detection area no picture here reaches: detection at full size
LADDER: list[tuple[str, Callable[[], Callable[[Image.Image], str]]]] = [
    ("rapidocr-onnxruntime defaults", _rapidocr_defaults),
    (
        "own pipeline, same work",
        lambda: _ours(
            _unbounded(det_pixels=FULL, use_angle_cls=True, rec_batch=6, rec_squeeze=1.0)
        ),
    ),
    (
        "- angle classifier",
        lambda: _ours(_unbounded(det_pixels=FULL, rec_batch=6, rec_squeeze=1.0)),
    ),
    (
        "+ detection at 960x544 area",
        lambda: _ours(_unbounded(det_pixels=960 * 544, rec_batch=6, rec_squeeze=1.0)),
    ),
    (
        "+ detection at 736x416 area",
        lambda: _ours(_unbounded(det_pixels=736 * 416, rec_batch=6, rec_squeeze=1.0)),
    ),
    ("  (alt: recognition batch 16)", lambda: _ours(_unbounded(rec_batch=16, rec_squeeze=1.0))),
    ("+ recognition batch 1", lambda: _ours(_unbounded(rec_batch=1, rec_squeeze=1.0))),
    ("+ crops squeezed to 0.75", lambda: _ours(_unbounded(rec_squeeze=0.75))),
    ("  (alt: squeezed to 0.6)", lambda: _ours(_unbounded(rec_squeeze=0.6))),
    ("+ budget 12,000 px = defaults", lambda: _ours(OcrSettings())),
    ("  (alt: budget 8,000 px)", lambda: _ours(OcrSettings(rec_budget=8_000))),
]


def ocr_ladder() -> None:
    samples = ladder_corpus()
    kinds = Counter(s.kind for s in samples)
    print(
        "== OCR tuning ladder, one core (thread CPU ms per picture; p99 of "
        f"{len(samples)} pictures is about the worst), each lever added to the row above"
    )
    print("   corpus: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
    print(
        f"   {'':32s} {'p50':>5s} {'p99':>6s}  phrases  chars | "
        + " ".join(f"{k[:13]:>13s}" for k in kinds)
    )
    for name, make in LADDER:
        read = make()
        read(samples[0].image)  # warm-up and model load
        cpu, texts = [], []
        for sample in samples:
            c0 = time.thread_time()
            texts.append(read(sample.image))
            cpu.append(time.thread_time() - c0)
        found, total, chars = _recall(samples, texts)
        cells = []
        for kind in kinds:
            mine = [i for i, s in enumerate(samples) if s.kind == kind]
            hit, of, _ = _recall([samples[i] for i in mine], [texts[i] for i in mine])
            cell = f"{statistics.median(cpu[i] for i in mine) * 1000:.0f}" + (
                f" {hit}/{of}" if of else ""
            )
            cells.append(f"{cell:>13s}")
        per_kind = " ".join(cells)
        p50, p99 = statistics.median(cpu) * 1000, percentile(cpu, 0.99) * 1000
        recall = f"{found:3d}/{total:<3d} {chars:6.3f}"
        print(f"   {name:32s} {p50:5.0f} {p99:6.0f}  {recall} | {per_kind}", flush=True)
    print(
        "   (per kind: p50 ms and phrases found; photos have no text: their cost is one "
        "detection pass)"
    )


# -- 6. pools --------------------------------------------------------------------------------

_worker_engine: OcrEngine | None = None


def _worker_read(pixels: np.ndarray) -> int:
    global _worker_engine
    if _worker_engine is None:
        _worker_engine = OcrEngine()
    result = _worker_engine.read(pixels)
    return len(result.text) if isinstance(result, OcrText) else -1


def _python_steps(stop: threading.Event, steps: list[float]) -> None:
    """Small pure-Python steps, as the event loop's handlers are; each step's wall time."""
    while not stop.is_set():
        t = time.perf_counter()
        total = 0
        for i in range(3000):
            total += i * i
        steps.append(time.perf_counter() - t)


def _map_all(pool: Executor, fn: Callable[[np.ndarray], object], work: list[np.ndarray]) -> None:
    list(pool.map(fn, work))


def _beside(run: Callable[[], object], seconds: float | None = None) -> tuple[float, list[float]]:
    stop, steps = threading.Event(), []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_python_steps, args=(stop, steps))
    thread.start()
    t = time.perf_counter()
    if seconds is None:
        run()
    else:
        time.sleep(seconds)
    elapsed = time.perf_counter() - t
    stop.set()
    thread.join()
    return elapsed, steps


POOL_ROUNDS = 5  # thread and process runs interleaved, so the machine's other load hits both


def pools() -> None:
    print("== pools: one OCR worker off the event loop")
    ocr = OcrEngine()
    ocr.load()
    models = ocr._state.models
    assert models is not None
    inside = [0.0]

    class Timed:
        def __init__(self, session: Any) -> None:
            self.session = session

        def run(self, *args: Any) -> Any:
            c0 = time.thread_time()
            try:
                return self.session.run(*args)
            finally:
                inside[0] += time.thread_time() - c0

    work = [np.asarray(imagegen.phone_screenshot(seed=s)) for s in range(3)]
    work += [np.asarray(imagegen.poster(seed=s)) for s in range(3)]
    real = models.det_session, models.rec_session
    models.det_session, models.rec_session = Timed(real[0]), Timed(real[1])
    c0 = time.thread_time()
    for pixels in work:
        ocr.read(pixels)
    total = time.thread_time() - c0
    models.det_session, models.rec_session = real
    print(
        f"   {inside[0] / total:.0%} of OCR's CPU time is inside onnxruntime (GIL released); "
        "the rest is OpenCV (releases it too) and Python/numpy glue"
    )
    print(
        f"   a pure-Python loop beside the pool, {POOL_ROUNDS} interleaved rounds of "
        f"{len(work)} pictures; its speed relative to a second alone just before each round"
    )
    results: dict[str, list[tuple[float, float, float]]] = {"thread": [], "process": []}
    with ThreadPoolExecutor(1) as threads, ProcessPoolExecutor(1) as processes:
        list(processes.map(_worker_read, work[:1]))  # the worker loads its models
        runs: list[tuple[str, Executor, Callable[[np.ndarray], object]]] = [
            ("thread", threads, ocr.read),
            ("process", processes, _worker_read),
        ]
        for _ in range(POOL_ROUNDS):
            for label, pool, read in runs:
                alone_time, alone = _beside(lambda: None, seconds=1.0)
                elapsed, steps = _beside(partial(_map_all, pool, read, work))
                speed = len(steps) / elapsed / (len(alone) / alone_time)
                results[label].append((len(work) / elapsed, speed, percentile(steps, 0.99)))
    for label, rows in results.items():
        print(
            f"   {label} pool x1: {statistics.median(r[0] for r in rows):4.2f} pictures/s, "
            f"the loop at {statistics.median(r[1] for r in rows):4.0%} of its speed, "
            f"step p99 {statistics.median(r[2] for r in rows) * 1000:5.1f} ms (medians; "
            f"pictures/s {min(r[0] for r in rows):.2f} to {max(r[0] for r in rows):.2f})"
        )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip the OCR ladder and pools")
    parser.add_argument(
        "--only", choices=["stages", "cold", "cache", "memory", "ladder", "pools"], action="append"
    )
    args = parser.parse_args(argv)
    wanted = set(args.only or ["stages", "cold", "cache", "memory", "ladder", "pools"])
    if args.quick:
        wanted -= {"ladder", "pools"}
    load = os.getloadavg()
    print(
        f"bench.images: {os.cpu_count()} CPUs, load average {load[0]:.1f} "
        "(CPU-time figures are per core and hold under load; wall figures do not)"
    )
    ocr = OcrEngine()
    failure = ocr.load()
    if failure is not None:
        sys.exit(f"OCR unavailable: {failure.reason}")
    sections: list[tuple[str, Callable[[], None]]] = [
        ("stages", partial(stages, ocr)),
        ("cold", cold_start),
        ("cache", cache_hit),
        ("memory", partial(memory, ocr)),
        ("ladder", ocr_ladder),
        ("pools", pools),
    ]
    for name, run in sections:
        if name in wanted:
            run()


if __name__ == "__main__":
    main()

"""QQ end to end under load: the real bot in a subprocess, a fake NapCat pushing a mixed stream.

    python -m bench.qq_e2e [--duration 5] [--rate 2500] [--violations 0.1] [--runs 1]
                           [--images-per-s 5]

The client paces group messages at ``--rate`` events/s for ``--duration``
seconds across 20 groups of 100 members (mostly clean chat, a share of banned
words), answers every API call, and reports:

- events/s handled: events sent / time from the first event until the bot had
  handled them all (its last violation got its first action frame and its own
  CPU went quiet), so a bot that falls behind cannot look fast;
- p50/p99 ms from a violation being sent to its first action frame (delete_msg);
- the bot process's CPU per event (all threads, and its event-loop thread).

With ``--images-per-s N`` (``make bench-images`` uses 5, at ``--rate 2005``: 2,000 text
events/s beside the pictures) every run is made twice in
the same invocation, text only and then with N of the events per second being
image messages instead of text: a phone screenshot (1080x1920 PNG), a poster with a
QR code to a site not allowed, a sticker, a picture with a banned term and a photo,
in turn, each made unique (so no picture is a cache hit) and answered by the
client's ``get_image`` with a local path, as NapCat on the same machine does. The
text latency with pictures flowing is the figure that matters (target: p99 < 50 ms);
picture verdicts (message sent -> ``delete_msg``) and how many pictures the bot
fetched are printed beside it.

Before the bot, the same client pushes the same stream at a trivial echo
server (a separate process that parses each event and answers violations with
a ``delete_msg`` frame): the ceiling of the client and loopback on this machine.

Target on the reference machine: >= 2,000 events/s with p99 < 50 ms (see
:meth:`Result.target_met` for how "keeps up" is judged). The raid mix (``make
bench-qq-raid``: ``--rate 3500 --violations 0.3 --runs 3``, also run by ``make
bench-qq``) is held to p99 < 50 ms at 3,500/s (issue 21). Every member of the stream
is in all 20 groups, so a ban sweeps all of them (a member list per group, a removal
and its verifying list) and the clean-up recalls their messages. As on QQ, a member
the bot muted or removed posts no more in that group: the client sends their next
messages from another member of the group (a stand-in, one of its silent members, who
speaks only there), so the stream keeps its rate and its share of violations. With
``--silenced-post`` muted and removed members go on posting instead (the stream of
sessions before this change; QQ itself never delivers such messages). As NapCat does,
the client reports each of the bot's own deletions, mutes and removals back to it with a
notice (``group_recall``, ``group_ban``, ``group_decrease``), about one per action, so a
raid's notices cost what they cost on a real account; ``--no-self-notices`` leaves them
out (the stream of sessions before wave 2's fourth).
Not a test: it prints figures. Loopback only; every spawned process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from tests.e2e.onebot_client import (
    ROOT,
    Call,
    FakeOneBot,
    SimGroup,
    free_port,
    running_bot,
    text,
    wait_listening,
    write_config,
)

TOKEN = "bench-secret"
BOT = 10000
GROUPS = 20
MEMBERS = 100
BANNED = ["测试脏话", "测试赌局"]
WORDS = {"insult": [BANNED[0]], "gambling": [BANNED[1]]}
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
# The operator's log level: warnings and errors, not a line per group message.
EXTRA = """
[flood]
rate_limit = 0
"""
LOG_LEVEL = "WARNING"
BASELINE = True  # run the echo server's ceiling first
MARGINAL = False  # run a violation-free stream first, for the CPU per violation
SILENCED_POST = False  # muted and removed members go on posting (QQ would not deliver it)
SELF_NOTICES = True  # the client reports the bot's own deletions, mutes, removals (NapCat)
STAND_IN = 200_000  # first user id of the stand-ins
TICK = 0.005  # seconds between send bursts
QUIET_CPU = 0.15  # the bot is idle below this share of one core...
QUIET_WINDOW = 0.2  # ...over this many seconds
KEEP_UP = 0.1  # seconds after the last event within which a bot that keeps up is done
PICTURE_GRACE = 10.0  # seconds after the text is done for the last pictures' verdicts
PACE = 0.995  # share of the offered rate the client must achieve for the run to count
TARGET = ">= 2,000 events/s offered and sent, all handled within 0.1 s of the last; p99 < 50 ms"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class ProcessCpu:
    """CPU seconds used by a process (all threads) and by its main thread, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def _read(self, path: str) -> float:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def total(self) -> float:
        return self._read(f"/proc/{self.pid}/stat")

    def main_thread(self) -> float:
        return self._read(f"/proc/{self.pid}/task/{self.pid}/stat")

    async def quiet_since(self, limit: float) -> float:
        """Wait until the process is idle; return the perf_counter time it went quiet."""
        deadline = time.perf_counter() + limit
        last_cpu, last_at = self.total(), time.perf_counter()
        while time.perf_counter() < deadline:
            await asyncio.sleep(QUIET_WINDOW)
            cpu, now = self.total(), time.perf_counter()
            if (cpu - last_cpu) / (now - last_at) < QUIET_CPU:
                return last_at
            last_cpu, last_at = cpu, now
        return time.perf_counter()


@dataclass
class Item:
    message_id: int
    payload: str
    violation: bool
    picture: str = ""  # an image message: which picture (a label)
    group: int = 0
    user: int = 0
    segments: list[dict[str, object]] = field(default_factory=list)


class Speakers:
    """Who may post: as on QQ, a member the bot muted or removed posts no more in that
    group, and a stand-in (a silent member of the group until then) speaks in their
    place, so the stream keeps its rate and mix."""

    def __init__(self, qq: FakeOneBot, enabled: bool = True) -> None:
        self.qq = qq
        self.enabled = enabled
        self.stand_ins: dict[tuple[int, int], int] = {}  # (group, stream user) -> speaker
        self.next_id = itertools.count(STAND_IN)
        self.replaced = 0

    def payload(self, item: Item) -> str:
        if not item.group:
            return item.payload
        user = self._speaker(item) if self.enabled else item.user
        self.qq.senders[item.message_id] = (item.group, user)  # for its recall's notice
        if user == item.user:
            return item.payload
        event = self.qq.message(item.group, user, item.segments, item.message_id)
        return json.dumps(event, ensure_ascii=False)

    def _speaker(self, item: Item) -> int:
        """Who posts ``item``: its member, or their stand-in once they are silenced."""
        group = self.qq.groups[item.group]
        user = self.stand_ins.get((item.group, item.user), item.user)
        member = group.members.get(user)
        if member is None or member.shut_up_timestamp > time.time():
            user = next(self.next_id)
            group.add(user, "member", f"成员+办公室{user}")
            self.stand_ins[(item.group, item.user)] = user
            self.replaced += 1
        return user


@dataclass(frozen=True)
class BenchPicture:
    label: str
    data: bytes
    suffix: str
    violation: bool


def bench_pictures() -> list[BenchPicture]:
    """The pictures image messages carry, in turn (generated; see ``tests/imagegen.py``)."""
    from tests import imagegen  # Pillow, numpy and a CJK font: only when pictures are asked for

    poster = imagegen.poster(qr_payload="https://lucky8.vip/join")
    return [
        BenchPicture("screenshot", imagegen.png(imagegen.phone_screenshot()), "png", False),
        BenchPicture("QR poster", imagegen.jpeg(poster), "jpg", True),
        BenchPicture("sticker", imagegen.sticker("好", seed=2), "png", False),
        BenchPicture(
            "banned text", imagegen.jpeg(imagegen.text_image([f"一起来{BANNED[1]}"])), "jpg", True
        ),
        BenchPicture("photo", imagegen.jpeg(imagegen.photo(seed=5)), "jpg", False),
    ]


def picture_segment(
    qq: FakeOneBot, folder: Path, picture: BenchPicture, n: int
) -> dict[str, object]:
    """An image segment for a unique copy of ``picture`` (bytes appended after its end,
    which decoders ignore: same pixels, another hash, so never a cache hit), written to
    ``folder`` and served by the client's ``get_image`` as a local path."""
    data = picture.data + f"groupguard-bench-{n}".encode()
    name = f"{hashlib.md5(data, usedforsecurity=False).hexdigest().upper()}.{picture.suffix}"
    path = folder / name
    path.write_bytes(data)
    qq.images[name] = path
    return {"type": "image", "data": {"file": name, "sub_type": 0, "file_size": str(len(data))}}


def build_stream(
    qq: FakeOneBot,
    n: int,
    share: float,
    seed: int,
    every: int = 0,
    pictures: tuple[Path, list[BenchPicture]] | None = None,
) -> list[Item]:
    """The events to send, encoded up front so the client spends its time sending; with
    ``pictures``, every ``every``-th event is an image message instead of text."""
    rng = random.Random(seed)
    items = []
    for message_id in range(10_001, 10_001 + n):
        group = 900_000 + rng.randrange(GROUPS)
        user = 100_000 + rng.randrange(MEMBERS)
        violation = rng.random() < share
        if violation:
            body = f"{rng.choice(CLEAN)}{rng.choice(BANNED)}{message_id}"
        else:
            body = f"{rng.choice(CLEAN)} {message_id}"
        if pictures is not None and every and message_id % every == 0:
            folder, choices = pictures
            picture = choices[(message_id // every) % len(choices)]
            segment = picture_segment(qq, folder, picture, message_id)
            event = qq.message(group, user, [segment], message_id)
            payload = json.dumps(event, ensure_ascii=False)
            items.append(Item(message_id, payload, picture.violation, picture.label))
            continue
        segments = text(body)
        event = qq.message(group, user, segments, message_id)
        payload = json.dumps(event, ensure_ascii=False)
        items.append(Item(message_id, payload, violation, "", group, user, segments))
    return items


def sim_groups() -> list[SimGroup]:
    groups = [SimGroup(900_000 + g) for g in range(GROUPS)]
    for sim in groups:
        sim.add(BOT, "admin", "群卫士+办公室")
        for m in range(MEMBERS):
            sim.add(100_000 + m, "member", f"成员+办公室{m}")
    return groups


@dataclass
class Result:
    label: str
    rate: float
    events: int
    sent_for: float
    violations: int
    latencies_ms: list[float]
    drained_after: float  # seconds from the first event until everything was handled
    cpu_total: float | None = None  # the server process's CPU seconds during the run
    cpu_main: float | None = None
    pictures: int = 0  # image messages sent
    picture_violations: int = 0
    picture_latencies_ms: list[float] | None = None  # image message sent -> delete_msg
    pictures_fetched: int = 0  # get_image calls the bot made
    calls: dict[str, int] = field(default_factory=dict)  # API calls the bot made, by action
    stand_ins: int = 0  # muted or removed members whose place another member took
    own_notices: int = 0  # the client's notices of the server's own deletions, mutes...

    def lines(self) -> list[str]:
        out = [
            f"{self.label}",
            f"  sent:        {self.events} events in {self.sent_for:.2f} s "
            f"(offered {self.rate:.0f}/s, achieved {self.events / self.sent_for:,.0f}/s)",
            f"  violations:  {self.violations} ({len(self.latencies_ms)} got an action frame)",
            f"  handled:     {self.events / self.drained_after:,.0f} events/s "
            f"(all handled {self.drained_after - self.sent_for:.2f} s after the last was sent)",
        ]
        if self.latencies_ms:
            lat = self.latencies_ms
            out.append(
                f"  latency:     p50 {statistics.median(lat):.1f} ms, "
                f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms "
                "(violation sent -> first action frame)"
            )
        if self.cpu_total is not None and self.cpu_main is not None:
            out.append(
                f"  server CPU:  {self.cpu_total / self.events * 1e3:.3f} ms/event "
                f"(event loop {self.cpu_main / self.events * 1e3:.3f} ms/event; "
                f"{self.cpu_total / self.drained_after:.0%} of a core; the picture pool's "
                "worker process not counted)"
            )
        if self.calls:
            shown = ", ".join(
                f"{a} {n}" for a, n in sorted(self.calls.items(), key=lambda c: -c[1])
            )
            out.append(f"  API calls:   {sum(self.calls.values())} ({shown})")
        if self.own_notices:
            out.append(
                f"  notices:     {self.own_notices} (the client's reports of the server's own "
                "deletions, mutes and removals, as NapCat sends them)"
            )
        if self.stand_ins:
            out.append(
                f"  stand-ins:   {self.stand_ins} (a muted or removed member's place taken "
                "by another member of the group)"
            )
        if self.pictures:
            lat = self.picture_latencies_ms or []
            out.append(
                f"  pictures:    {self.pictures} image messages "
                f"({self.pictures / self.sent_for:.1f}/s), {self.pictures_fetched} fetched "
                f"(get_image); {len(lat)} of {self.picture_violations} bad ones deleted"
                + (
                    f", p50 {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms "
                    "(sent -> delete_msg)"
                    if lat
                    else ""
                )
                + (
                    "; the others were not checked (the picture pool was full)"
                    if len(lat) < self.picture_violations
                    else ""
                )
            )
        return out

    def target_met(self) -> bool:
        """Kept up with 2,000 events/s: at least that was offered (and the client kept to
        its schedule, within ``PACE``), everything was handled as it came (done within
        ``KEEP_UP`` of the last event), with p99 < 50 ms.

        (At an offered 2,000/s, events / time until done can only come out a hair
        under 2,000 however fast the bot is: the last event itself takes some time.
        Likewise the achieved sending rate wobbles around the offered one by the
        client's timer slack, so it is held to the schedule, not to the exact figure.)
        """
        return (
            len(self.latencies_ms) == self.violations
            and self.rate >= 2000
            and self.events / self.sent_for >= self.rate * PACE
            and self.drained_after - self.sent_for <= KEEP_UP
            and bool(self.latencies_ms)
            and percentile(self.latencies_ms, 0.99) < 50
        )


async def push(
    qq: FakeOneBot,
    stream: list[Item],
    rate: float,
    label: str,
    cpu: ProcessCpu | None,
    stand_ins: bool = True,
) -> Result:
    """Send ``stream`` at ``rate`` events/s and wait until the server has handled it
    (``stand_ins``: see :class:`Speakers`; False: muted and removed members go on posting)."""
    sent_at: dict[int, float] = {}
    latency: dict[int, float] = {}
    picture_sent_at: dict[int, float] = {}
    picture_latency: dict[int, float] = {}
    fetched = 0
    last_action = 0.0

    calls: Counter[str] = Counter()

    def on_call(call: Call) -> None:
        nonlocal last_action, fetched
        calls[call.action] += 1
        if call.action == "get_image":
            fetched += 1
        if call.action == "delete_msg":
            mid = int(call.params["message_id"])
            if mid in sent_at and mid not in latency:
                latency[mid] = call.at - sent_at[mid]
                last_action = max(last_action, call.at)
            elif mid in picture_sent_at and mid not in picture_latency:
                picture_latency[mid] = call.at - picture_sent_at[mid]

    qq.on_call = on_call
    qq.self_notices = SELF_NOTICES
    notices0 = qq.own_notices
    speakers = Speakers(qq, stand_ins)
    cpu0 = (cpu.total(), cpu.main_thread()) if cpu else None
    start = time.perf_counter()
    owed = 0.0
    index = 0
    next_tick = last_sent = start
    while index < len(stream):
        owed += rate * TICK
        while owed >= 1 and index < len(stream):
            owed -= 1
            item = stream[index]
            index += 1
            if item.picture:
                picture_sent_at[item.message_id] = time.perf_counter()
            elif item.violation:
                sent_at[item.message_id] = time.perf_counter()
            await qq.send_raw(speakers.payload(item))
        last_sent = time.perf_counter()
        next_tick += TICK
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    sent_for = last_sent - start
    violations = len(sent_at)
    deadline = time.monotonic() + 60
    while len(latency) < violations and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    done = max(last_action, last_sent)  # not the pacing's idle tick after the last send
    if cpu is not None:
        done = max(done, await cpu.quiet_since(limit=60))
    result = Result(
        label,
        rate,
        len(stream),
        sent_for,
        violations,
        [v * 1000 for v in latency.values()],
        done - start,
    )
    result.calls = dict(calls)
    result.stand_ins = speakers.replaced
    result.own_notices = qq.own_notices - notices0
    if cpu is not None and cpu0 is not None:
        result.cpu_total = cpu.total() - cpu0[0]
        result.cpu_main = cpu.main_thread() - cpu0[1]
    if picture_sent_at:  # pictures are judged in the background: give the last ones time
        bad = {i.message_id for i in stream if i.picture and i.violation}
        deadline = time.monotonic() + PICTURE_GRACE
        while bad - picture_latency.keys() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        result.pictures = len(picture_sent_at)
        result.picture_violations = len(bad)
        # (a clean picture may be deleted too: protection recalls a removed member's last
        # messages; only the bad pictures' verdicts are timed)
        result.picture_latencies_ms = [
            picture_latency[m] * 1000 for m in bad & picture_latency.keys()
        ]
        result.pictures_fetched = fetched
    qq.on_call = None
    return result


# ---------------------------------------------------------------------- echo baseline


async def _echo(ws: ServerConnection) -> None:
    """What a zero-cost bot would do: parse each event, answer violations with a delete."""
    async for raw in ws:
        frame = json.loads(raw)
        if frame.get("post_type") != "message":
            continue
        if any(word in frame.get("raw_message", "") for word in BANNED):
            params = {"message_id": frame["message_id"]}
            await ws.send(json.dumps({"action": "delete_msg", "params": params, "echo": "0"}))


async def echo_server(port: int) -> None:
    async with serve(_echo, "127.0.0.1", port, max_size=None):
        await asyncio.Future()


@contextlib.asynccontextmanager
async def running_echo(port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once; we poll below)
        [sys.executable, "-m", "bench.qq_e2e", "--echo-server", str(port)],
        cwd=str(ROOT),
        start_new_session=True,
    )
    try:
        await wait_listening(proc, port)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=5)


# ---------------------------------------------------------------------- runs


async def baseline(rate: float, stream_args: tuple[int, float, int]) -> Result:
    port = free_port()
    async with (
        running_echo(port) as proc,
        FakeOneBot(f"ws://127.0.0.1:{port}/", BOT, TOKEN, sim_groups()) as qq,
    ):
        stream = build_stream(qq, *stream_args)
        return await push(qq, stream, rate, "client ceiling (echo server)", ProcessCpu(proc.pid))


async def warm_up(
    qq: FakeOneBot,
    groups: list[SimGroup],
    cpu: ProcessCpu,
    pictures: tuple[Path, list[BenchPicture]] | None = None,
) -> None:
    """Not measured: every member speaks once, so the bot has learnt its role in each group
    and seen each member (first sight is recorded in the database); with pictures, one bad
    picture is judged, so the picture pool's process is up and its models loaded."""
    n = 0
    for sim in groups:
        for m in range(MEMBERS):
            n += 1
            await qq.send(qq.message(sim.group_id, 100_000 + m, text("早"), n))
            if n % 100 == 0:
                await asyncio.sleep(0.02)
    if pictures is not None:
        folder, choices = pictures
        bad = next(p for p in choices if p.violation)
        n += 1
        segment = picture_segment(qq, folder, bad, n)
        await qq.send(qq.message(groups[0].group_id, 100_000, [segment], n))
        await qq.wait_for(lambda c: c.action == "delete_msg" and c.params["message_id"] == n, 120)
    await cpu.quiet_since(limit=30)


async def bot_run(
    rate: float, stream_args: tuple[int, float, int], images_per_s: float = 0.0
) -> Result:
    groups = sim_groups()
    with tempfile.TemporaryDirectory(prefix="groupguard-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        config = write_config(directory, port, TOKEN, WORDS, EXTRA)
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        env = {"LOG_LEVEL": LOG_LEVEL}
        pictures = None
        if images_per_s > 0:
            folder = directory / "napcat-cache"
            folder.mkdir()
            pictures = (folder, bench_pictures())
        async with (
            running_bot(config, port, directory / "bot.log", env) as proc,
            FakeOneBot(url, BOT, TOKEN, groups) as qq,
        ):
            cpu = ProcessCpu(proc.pid)
            await warm_up(qq, groups, cpu, pictures)
            every = round(rate / images_per_s) if pictures is not None else 0
            stream = build_stream(qq, *stream_args, every, pictures)
            label = "GroupGuard bot" + (
                f", pictures at {images_per_s:g}/s" if pictures is not None else ""
            )
            result = await push(qq, stream, rate, label, cpu, stand_ins=not SILENCED_POST)
        if len(result.latencies_ms) < result.violations:  # show why, before the directory goes
            log_tail = (directory / "bot.log").read_text(errors="replace").splitlines()[-15:]
            print("bot log (last lines):", *log_tail, sep="\n  ", file=sys.stderr)
    return result


async def run(
    duration: float, rate: float, share: float, seed: int, runs: int, images_per_s: float = 0.0
) -> int:
    stream_args = (round(duration * rate), share, seed)
    print(
        "QQ end to end (OneBot v11 reverse WebSocket, loopback); "
        f"{GROUPS} groups x {MEMBERS} members, {share:.0%} violations"
    )
    if BASELINE:
        for line in (await baseline(rate, stream_args)).lines():
            print(line)
    clean_cpu = None
    if MARGINAL and share > 0:  # the same stream with no violation: what a clean event costs
        clean = await bot_run(rate, (stream_args[0], 0.0, seed))
        clean.label = "GroupGuard bot, the same stream without violations (baseline)"
        for line in clean.lines():
            print(line)
        if clean.cpu_total is not None:
            clean_cpu = clean.cpu_total / clean.events
    met = 0
    kinds = [0.0, images_per_s] if images_per_s > 0 else [0.0]
    for n in range(runs):
        for pictures in kinds:
            result = await bot_run(rate, stream_args, pictures)
            if runs > 1:
                result.label += f" (run {n + 1}/{runs})"
            for line in result.lines():
                print(line)
            if clean_cpu is not None and result.cpu_total is not None and result.violations:
                extra = result.cpu_total - clean_cpu * result.events
                print(
                    f"  CPU per violation: {extra / result.violations * 1e3:.3f} ms above a clean "
                    f"event's {clean_cpu * 1e3:.3f} ms"
                )
            met += result.target_met()
    total = runs * len(kinds)
    print(
        f"target ({TARGET}): met in {met} of {total} run(s)"
        if total > 1
        else f"target ({TARGET}): {'met' if met else 'NOT met'}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=2500.0, help="events per second to send")
    parser.add_argument("--violations", type=float, default=0.1, help="share of violations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="bot runs (one baseline first)")
    parser.add_argument(
        "--images-per-s",
        type=float,
        default=0.0,
        help="also run with this many of the events per second being image messages",
    )
    parser.add_argument(
        "--extra", type=Path, metavar="TOML", help="config lines added to the bot's (a file)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the echo server's ceiling run"
    )
    parser.add_argument(
        "--marginal",
        action="store_true",
        help="first run the stream with no violation, to print the CPU per violation",
    )
    parser.add_argument(
        "--silenced-post",
        action="store_true",
        help="muted and removed members go on posting (QQ does not deliver such messages)",
    )
    parser.add_argument(
        "--no-self-notices",
        action="store_true",
        help="the client does not report the bot's own deletions, mutes and removals "
        "(NapCat does, one notice each)",
    )
    parser.add_argument("--echo-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global EXTRA, BASELINE, MARGINAL, SILENCED_POST, SELF_NOTICES
    if args.extra is not None:
        EXTRA += "\n" + args.extra.read_text(encoding="utf-8")
    BASELINE = not args.no_baseline
    MARGINAL = args.marginal
    SILENCED_POST = args.silenced_post
    SELF_NOTICES = not args.no_self_notices
    if args.echo_server:
        asyncio.run(echo_server(args.echo_server))
        return 0
    return asyncio.run(
        run(args.duration, args.rate, args.violations, args.seed, args.runs, args.images_per_s)
    )


if __name__ == "__main__":
    sys.exit(main())

"""RedisState: the SharedState port on Redis, for several bot processes acting as one.

- **Claims** (``SET NX PX``): the first process to claim a message acts on it.
- **Leases** (a key holding the owner's token, renewed by the holder): only one
  process sends the officer outbox and runs scheduled jobs.
- **Flood windows**: a Lua script updates the member's repeat run and rate
  window atomically and remembers its answer per message id, so a message
  delivered to two processes is counted once and both get the same count.
  Detectors are synchronous, so :meth:`count_flood` only queues the
  message; one task sends the queue in order (one script call per batch) and
  resolves each message's future.
- **Relay** (:meth:`RedisState.relay`, ``redis_relay``): requests to whichever
  process holds a lease (e.g. the one WeChat connection) and announcements.

When Redis does not answer within the timeout, the bot says so once in the log
and falls back to local state: claims in memory (the database still refuses a
second claim of a message), leases kept only by the process that last held them
(nothing is done twice; work held by nobody waits for Redis), flood counted in
each process's own windows. Calls are tried again every ``retry_every``; the
first that succeeds logs the recovery and the shared state is used again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from rules.core.ports import FloodCount, FloodSample
from rules.shared_state.base import LeaseContext
from rules.shared_state.memory import MemoryState
from rules.shared_state.redis_relay import RedisRelay

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 256  # flood samples per script call (one round trip)
WINDOW_MEMORY = timedelta(days=1)  # a member's windows are forgotten after a day of silence
RECENT_BYTES = 1024  # a member's latest answers (~50 messages) kept for other deliveries

# One call counts a whole batch, in order. Each member's windows are one hash,
# touched by one HMGET and one HSET per message, and only with string functions
# that run in C (the server's time is what this costs): ``last``/``n`` the repeat
# run, ``times`` the rate window (",t1,t2", ms), ``recent`` the answers for the
# member's latest messages (",id=n:burst,...", at most RECENT_BYTES), so a
# message delivered to two processes is counted once and both get the same
# answer. KEYS: the member's hash per message; ARGV: hash ttl ms, RECENT_BYTES,
# then per message "text key US time ms US rate_limit US window ms US message id"
# (US = \x1f; an empty text key means no text). Returns ",n:burst,..." in order.
_FLOOD = r"""
local ttl, keep = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local key, t, limit, window, id =
    string.match(ARGV[i + 2], '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')
  t, limit, window = tonumber(t), tonumber(limit), tonumber(window)
  local h = redis.call('HMGET', KEYS[i], 'last', 'n', 'times', 'recent')
  local recent = h[4] or ''
  local answer
  local at = string.find(recent, ',' .. id .. '=', 1, true)
  if at then
    answer = string.match(recent, '^[^,]*', at + #id + 2)
  else
    local last, n, burst = h[1] or '', 0, 0
    if key ~= '' then
      n = (last == key) and tonumber(h[2]) + 1 or 1
      last = key
    else
      n = tonumber(h[2] or '0')
    end
    local times = h[3] or ''
    if limit > 0 then
      times = times .. ',' .. t
      local _, count = string.gsub(times, ',', ',')
      while count > limit do
        times = string.match(times, '^,[^,]*(,.*)$')
        count = count - 1
      end
      local first = tonumber(string.match(times, '^,([^,]*)'))
      if count == limit and t - first <= window then
        burst, times = 1, ''
      end
    end
    answer = (key ~= '' and n or 0) .. ':' .. burst
    recent = ',' .. id .. '=' .. answer .. recent
    if #recent > keep then
      recent = string.match(string.sub(recent, 1, keep), '^(.*),')
    end
    redis.call('HSET', KEYS[i], 'last', last, 'n', n, 'times', times, 'recent', recent)
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  out[i] = ',' .. answer
end
return table.concat(out)
"""

# KEYS: lease; ARGV: owner, ttl ms
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _ms(value: timedelta) -> int:
    return max(1, int(value.total_seconds() * 1000))


def _plain(message_id: str) -> str:
    """A message id safe inside the script's lists (no separators)."""
    return message_id.translate(_SEPARATORS)


_SEPARATORS = str.maketrans({",": "_", "=": "_", "\x1f": "_"})


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class RedisState(LeaseContext):
    """Shared state in Redis; local state while Redis is unreachable."""

    shared = True

    def __init__(
        self,
        client: Redis,
        prefix: str = "groupguard:",
        retry_every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        label: str = "Redis",
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.retry_every = retry_every
        self.clock = clock
        self.label = label
        self.local = MemoryState(clock=clock)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._held: set[str] = set()  # leases this process held when last asked
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._flood: deque[tuple[FloodSample, asyncio.Future[FloodCount | None]]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._flood_script = client.register_script(_FLOOD)
        self._lease_script = client.register_script(_LEASE)
        self._release_script = client.register_script(_RELEASE)
        self._relay: RedisRelay | None = None

    @classmethod
    async def connect(cls, url: str, prefix: str, answer_within: timedelta) -> RedisState:
        """A client for ``url``; an unreachable Redis is logged, not fatal (local state)."""
        seconds = answer_within.total_seconds()
        client = Redis.from_url(
            url,
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            retry=Retry(NoBackoff(), 0),  # we fall back at once and retry later ourselves
        )
        label = "Redis at " + _safe_url(url)
        state = cls(client, prefix, label=label)
        await state._call(client.ping)
        return state

    # -- availability ---------------------------------------------------------

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def _worth_trying(self) -> bool:
        return self._down_since is None or self.clock() >= self._retry_at

    async def _call(self, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """(True, result), or (False, None) when Redis is (or just became) unreachable."""
        if not self._worth_trying():
            return False, None
        try:
            result = await call()
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return False, None
        if self._down_since is not None:
            log.warning(
                "Redis reachable again after %.0fs: shared state (flood windows, claims, "
                "leases) resumed",
                self.clock() - self._down_since,
            )
            self._down_since = None
        return True, result

    def _went_down(self, exc: BaseException) -> None:
        now = self.clock()
        self._retry_at = now + self.retry_every
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "Redis unreachable (%s: %s): using local state until it answers again "
                "(flood counted per process, leases kept by their last holder)",
                type(exc).__name__,
                exc,
            )

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- claims and leases ------------------------------------------------------

    async def claim(self, key: str, ttl: timedelta) -> bool:
        name = self._key("claim", key)
        ok, taken = await self._call(lambda: self.redis.set(name, self.owner, nx=True, px=_ms(ttl)))
        if ok:
            return bool(taken)
        return self.local.claim_now(key, ttl)

    async def try_lease(self, name: str, ttl: timedelta) -> bool:
        key = self._key("lease", name)
        ok, held = await self._call(
            lambda: self._lease_script(keys=[key], args=[self.owner, _ms(ttl)])
        )
        if not ok:
            return name in self._held  # keep what we held; take nothing new
        if held:
            self._held.add(name)
        else:
            self._held.discard(name)
        return bool(held)

    async def release(self, name: str) -> None:
        self._held.discard(name)
        key = self._key("lease", name)
        await self._call(lambda: self._release_script(keys=[key], args=[self.owner]))

    async def holder(self, name: str) -> str | None:
        """The owner token of whoever holds the lease (None: free or Redis unreachable)."""
        ok, value = await self._call(lambda: self.redis.get(self._key("lease", name)))
        return value.decode() if ok and isinstance(value, bytes) else None

    def relay(self) -> RedisRelay:
        """Requests to lease holders and announcements (``rules.shared_state.relay``)."""
        if self._relay is None:
            timeout = self.redis.connection_pool.connection_kwargs.get("socket_timeout")
            self._relay = RedisRelay(self.redis, self._key, self.owner, float(timeout or 1.0))
        return self._relay

    # -- flood windows ------------------------------------------------------------

    def count_flood(self, sample: FloodSample) -> asyncio.Future[FloodCount | None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[FloodCount | None] = loop.create_future()
        if not self._worth_trying():
            future.set_result(None)
            return future
        self._flood.append((sample, future))
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send_flood(), name="redis-flood")
        return future

    async def _send_flood(self) -> None:
        """Send queued samples in order, a batch per round trip, until the queue is empty."""
        while self._flood:
            batch = [self._flood.popleft() for _ in range(min(len(self._flood), MAX_BATCH))]
            samples = [s for s, _ in batch]
            counts: list[FloodCount] | None = None
            try:
                _, counts = await self._call(lambda: self._count(samples))  # noqa: B023
            finally:  # also when cancelled (shutdown): nobody waits forever
                for n, (_, future) in enumerate(batch):
                    if not future.done():
                        future.set_result(counts[n] if counts is not None else None)

    async def _count(self, samples: list[FloodSample]) -> list[FloodCount]:
        keys = [self._key("flood", s.group_id, s.member_id) for s in samples]
        args: list[Any] = [_ms(WINDOW_MEMORY), RECENT_BYTES]
        args += [
            f"{_digest(s.key) if s.key else ''}\x1f{int(s.at.timestamp() * 1000)}\x1f"
            f"{s.rate_limit}\x1f{_ms(s.rate_window)}\x1f{_plain(s.message_id)}"
            for s in samples
        ]
        reply = await self._flood_script(keys=keys, args=args)
        counts = []
        for item in reply.decode().split(",")[1:]:
            repeats, burst = item.split(":")
            counts.append(FloodCount(int(repeats), burst == "1"))
        return counts

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        for _, future in self._flood:
            if not future.done():
                future.set_result(None)
        self._flood.clear()
        if self._relay is not None:
            await self._relay.close()
        await self.redis.aclose()


def _safe_url(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest

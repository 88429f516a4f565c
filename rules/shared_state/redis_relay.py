"""The relay (``rules.shared_state.relay``) on Redis: a request list per holder, a reply key each.

- A request to the holder of lease ``L`` is pushed (RPUSH) to the list
  ``relay:L:<holder's owner token>``, so it reaches the process that held the
  lease when it was sent and no other: a request meant for a holder that died is
  never run by its successor (it expires with the list). The envelope carries a
  reply key and a deadline (wall-clock time).
- The holder pops its list (BLPOP, so a request is taken by one server task),
  drops a request whose deadline has passed, runs the handler for the time
  left and pushes the answer to the reply key, which expires shortly after the
  deadline.
- The requester waits on its reply key (BLPOP) until the deadline, then gives
  up with :class:`RelayTimeout`.
- A request to the lease held by this very process calls its handler directly.
- Announcements are counters (INCR / GET).

Blocking pops would trip the shared client's socket timeout (the time Redis has
to answer an ordinary call), so they use a second connection pool without one,
each wait bounded by ``asyncio.wait_for`` instead. Every Redis failure is a
:class:`RelayError`: the caller records a failed outcome or retries later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from rules.shared_state.relay import (
    Handler,
    Message,
    RelayError,
    RelayTimeout,
    call_handler,
    describe_error,
)

log = logging.getLogger(__name__)

POLL = 1.0  # a server's blocking pop returns this often (so it notices cancellation)
GRACE = 5.0  # lists and reply keys outlive their deadline by this much
MAX_IN_FLIGHT = 64  # requests a server answers at once (the rest wait in the list)
RETRY_EVERY = 2.0  # a server's wait after Redis failed


class RedisRelay:
    """Requests to lease holders and announcements, through one Redis."""

    def __init__(
        self,
        client: Redis,
        key: Callable[..., str],
        owner: str,
        answer_within: float = 1.0,
    ) -> None:
        self.redis = client
        self.key = key  # the shared state's key builder (its prefix and lease names)
        self.owner = owner
        self.answer_within = answer_within
        pool = client.connection_pool
        kwargs = dict(pool.connection_kwargs) | {"socket_timeout": None}
        self._pool = ConnectionPool(connection_class=pool.connection_class, **kwargs)
        self._blocking = Redis(connection_pool=self._pool)
        self._local: dict[str, Handler] = {}
        self._down = False

    # -- requests -------------------------------------------------------------

    async def request(self, lease: str, body: Message, within: float) -> Message:
        deadline = time.time() + within
        holder = await self._holder(lease)
        if holder is None:
            raise RelayError(f"no process holds {lease!r}")
        if holder == self.owner:
            handler = self._local.get(lease)
            if handler is None:
                raise RelayError(f"this process holds {lease!r} but does not serve it")
            return await call_handler(handler, body, within)
        request_id = secrets.token_hex(8)
        reply_key = self.key("relay-reply", request_id)
        envelope = {"id": request_id, "reply": reply_key, "deadline": deadline, "body": body}
        queue = self.key("relay", lease, holder)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(queue, json.dumps(envelope, ensure_ascii=False))
                pipe.pexpire(queue, _ms(within + GRACE))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise RelayError(f"shared state unreachable ({describe_error(exc)})") from None
        got = await self._pop(reply_key, deadline - time.time())
        if got is None:
            raise RelayTimeout(f"{holder} did not answer within {within:g}s")
        reply: dict[str, Any] = json.loads(got)
        if not reply.get("ok"):
            raise RelayError(f"{holder}: {reply.get('error') or 'failed'}")
        answer: Message = reply.get("body") or {}
        return answer

    async def _holder(self, lease: str) -> str | None:
        try:
            value = await self.redis.get(self.key("lease", lease))
        except (RedisError, OSError) as exc:
            raise RelayError(f"shared state unreachable ({describe_error(exc)})") from None
        return value.decode() if isinstance(value, bytes) else None

    async def _pop(self, key: str, within: float) -> bytes | None:
        """BLPOP one item of ``key`` within ``within`` seconds; None when none came."""
        if within <= 0:
            return None
        try:
            got = await asyncio.wait_for(
                self._blocking.blpop([key], timeout=max(within, 0.01)),
                within + self.answer_within,
            )
        except TimeoutError:
            return None
        except (RedisError, OSError) as exc:
            raise RelayError(f"shared state unreachable ({describe_error(exc)})") from None
        if not got:
            return None
        item = got[1]
        return item.encode() if isinstance(item, str) else item

    # -- serving --------------------------------------------------------------

    async def serve(self, lease: str, handler: Handler) -> None:
        queue = self.key("relay", lease, self.owner)
        self._local[lease] = handler
        in_flight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        try:
            while True:
                await slots.acquire()
                try:
                    raw = await self._pop(queue, POLL)
                except RelayError as exc:
                    slots.release()
                    self._went_down(lease, exc)
                    await asyncio.sleep(RETRY_EVERY)
                    continue
                if self._down:
                    self._down = False
                    log.warning("relay: serving %r again (Redis answers)", lease)
                if raw is None:
                    slots.release()
                    continue
                task = asyncio.create_task(self._answer(raw, handler), name=f"relay-{lease}")
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            if self._local.get(lease) is handler:
                del self._local[lease]
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.wait(in_flight, timeout=1.0)

    def _went_down(self, lease: str, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("relay: cannot serve %r (%s); retrying every %gs", lease, exc, RETRY_EVERY)

    async def _answer(self, raw: bytes, handler: Handler) -> None:
        try:
            envelope = json.loads(raw)
            reply_key = str(envelope["reply"])
            left = float(envelope["deadline"]) - time.time()
            body = envelope["body"]
        except (ValueError, KeyError, TypeError):
            log.warning("relay: dropped a malformed request")
            return
        if left <= 0:
            log.warning("relay: dropped a request that arrived %.1fs after its deadline", -left)
            return
        try:
            answer = await call_handler(handler, body, left)
            reply: dict[str, Any] = {"ok": True, "body": answer}
        except RelayTimeout:
            return  # the requester has given up already
        except RelayError as exc:
            reply = {"ok": False, "error": str(exc)}
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(reply_key, json.dumps(reply, ensure_ascii=False))
                pipe.pexpire(reply_key, _ms(max(left, 0.0) + GRACE))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("relay: an answer was lost (%s)", describe_error(exc))

    # -- announcements --------------------------------------------------------

    async def announce(self, topic: str) -> None:
        try:
            await self.redis.incr(self.key("news", topic))
        except (RedisError, OSError) as exc:
            raise RelayError(f"shared state unreachable ({describe_error(exc)})") from None

    async def heard(self, topic: str) -> int:
        try:
            value = await self.redis.get(self.key("news", topic))
        except (RedisError, OSError) as exc:
            raise RelayError(f"shared state unreachable ({describe_error(exc)})") from None
        return int(value) if value else 0

    async def close(self) -> None:
        self._local.clear()
        await self._blocking.aclose()
        await self._pool.disconnect()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))

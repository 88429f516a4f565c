"""Which bot process holds the one WeChat connection: a lease in the shared state.

A puppet service gateway serves one event stream, and a second client that
connects (or, worse, calls Stop) disturbs the first. With several processes
(Redis configured) the lease ``wechat:<endpoint>`` decides which one connects:

- the supervisor asks :meth:`ConnectionLease.should_connect` before every
  connection attempt; it takes (or renews) the lease and says yes only to its
  holder; the others stand by and ask again every ``STANDBY_POLL`` seconds;
- :meth:`ConnectionLease.keep` renews the lease every third of its ``LEASE_TTL``
  while held, also while the connection itself is down (the holder keeps
  retrying the gateway; nobody else does); when a renewal finds another
  holder (this process stalled past the TTL) it calls ``on_lost``, which drops
  the session without logging the account out;
- a process that stops releases the lease after closing its session, so
  another takes over within ``STANDBY_POLL``; one that dies (kill -9, a lost
  machine) stops renewing, so another takes over when the lease expires:
  between 2/3 and all of ``LEASE_TTL`` after its last renewal, plus a poll;
- while Redis is unreachable the holder keeps the lease and nobody else takes
  it (``RedisState.try_lease``).

With one process (no Redis) the lease is always this process's: it connects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from rules.core.ports import SharedState

log = logging.getLogger("groupguard.wechaty")

LEASE_TTL = timedelta(seconds=10)
STANDBY_POLL = 1.0  # seconds between a standing-by process's tries to take the lease


def lease_name(endpoint: str) -> str:
    """The lease (and relay address) of the connection to the gateway at ``endpoint``."""
    return f"wechat:{endpoint}"


class ConnectionLease:
    """This process's claim on the WeChat connection to one gateway."""

    def __init__(self, shared: SharedState, endpoint: str, ttl: timedelta = LEASE_TTL) -> None:
        self.shared = shared
        self.name = lease_name(endpoint)
        self.ttl = ttl
        self.held = not shared.shared  # alone: always the holder
        self.owner = str(getattr(shared, "owner", "this process"))
        self.on_lost: Callable[[str], None] | None = None  # e.g. the supervisor's drop()
        self._said: bool | None = None  # what the log last said about holding it

    async def should_connect(self) -> bool:
        """The supervisor's hook: take or renew the lease; True only for its holder."""
        held = await self.shared.try_lease(self.name, self.ttl)
        self.held = held
        await self._log_change(held)
        return held

    async def keep(self) -> None:
        """Renew the lease while held, until cancelled; report its loss to ``on_lost``."""
        if not self.shared.shared:
            return  # nothing to renew: nobody else could take it
        every = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if not self.held:
                continue
            try:
                held = await self.shared.try_lease(self.name, self.ttl)
            except Exception:  # the shared state falls back by itself; never end this loop
                log.exception("WeChat: lease renewal failed")
                continue
            if held:
                continue
            self.held = False
            await self._log_change(False)
            if self.on_lost is not None:
                self.on_lost(f"lease {self.name!r} lost to another process")

    async def release(self) -> None:
        """Give the lease up (after the session is closed), so another process connects now."""
        was_held, self.held = self.held, False
        if was_held and self.shared.shared:
            try:
                await self.shared.release(self.name)
            except Exception:
                log.exception("WeChat: lease release failed (it expires by itself)")
            else:
                log.info("WeChat: released the connection lease %r", self.name)

    async def _log_change(self, held: bool) -> None:
        if held == self._said or not self.shared.shared:
            self._said = held
            return
        self._said = held
        name = self.name
        if held:
            log.info("WeChat: this process (%s) holds the connection lease %r", self.owner, name)
            return
        holder = None
        who = getattr(self.shared, "holder", None)
        if who is not None:
            try:
                holder = await who(self.name)
            except Exception:
                holder = None
        log.info(
            "WeChat: standing by: %s holds the connection lease %r (this process: %s); "
            "WeChat work goes to it through the shared state",
            holder or "another process",
            self.name,
            self.owner,
        )

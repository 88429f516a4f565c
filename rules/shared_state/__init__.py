"""State several bot processes share (claims, leases, flood counts), as siblings:

- ``base``: what the implementations share (lease contexts, ready values, the
  banner line);
- ``memory``: :class:`MemoryState`, for a bot running alone;
- ``redis``: :class:`RedisState`, for several processes on one Redis;
- ``relay``: requests to a lease's holder and announcements between processes
  (``MemoryRelay``; ``redis_relay.RedisRelay`` on Redis), from ``state.relay()``.

The port is :class:`rules.core.ports.SharedState`; which implementation a bot
uses is chosen by the composition root (``rules.runtime.open_shared_state``).
"""

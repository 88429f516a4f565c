"""python-wechaty 0.10.7 made importable and safe to host (see PLATFORMS.md).

Import wechaty only through this module: it applies the one patch the library
needs on Python 3.11 before the import, and it owns the resets of the
library's process-global state.

- ``wechaty.py`` declares a dataclass field whose default is a
  ``PuppetOptions()`` instance; 3.11 rejects unhashable mutable defaults, so
  ``PuppetOptions`` gets ``object.__hash__`` first. The default instance is then
  shared: always pass your own ``PuppetOptions``.
- ``Contact._pool``, ``Room._pool`` and ``Tag._pool`` are class-level caches
  shared by every connection. Their objects are bound to the puppet that
  created them, so after a reconnect they would talk to a closed channel: clear
  them on every (re)connect. The message-id dedupe set drops reused ids: tests
  reset it too.
"""

from __future__ import annotations

from wechaty_puppet.schemas.puppet import PuppetOptions

if PuppetOptions.__hash__ is None:  # the dataclass made it unhashable
    PuppetOptions.__hash__ = object.__hash__

import wechaty  # after the patch above
from wechaty.user.contact import Contact
from wechaty.user.room import Room
from wechaty.user.tag import Tag
from wechaty.utils.async_helper import SingleIdContainer

__all__ = ["PuppetOptions", "clear_payload_pools", "reset_wechaty_globals", "wechaty"]


def clear_payload_pools() -> None:
    """Forget cached contacts, rooms and tags (they are bound to an old puppet)."""
    Contact._pool.clear()
    Room._pool.clear()
    Tag._pool.clear()


def reset_wechaty_globals() -> None:
    """Clear every process-global cache of python-wechaty (between tests)."""
    clear_payload_pools()
    SingleIdContainer._instance = None

"""python-wechaty 0.10.7 made importable and safe to host (see PLATFORMS.md).

Import wechaty only through this module: it applies the patches the library
needs before the import, and it owns the resets of the library's
process-global state.

- ``wechaty.py`` declares a dataclass field whose default is a
  ``PuppetOptions()`` instance; 3.11 rejects unhashable mutable defaults, so
  ``PuppetOptions`` gets ``object.__hash__`` first. The default instance is then
  shared: always pass your own ``PuppetOptions``.
- ``Contact._pool``, ``Room._pool`` and ``Tag._pool`` are class-level caches
  shared by every connection. Their objects are bound to the puppet that
  created them, so after a reconnect they would talk to a closed channel: clear
  them on every (re)connect. The message-id dedupe set drops reused ids: tests
  reset it too.
- Every python-wechaty logger gets its own stderr handler, its own format and
  ``propagate = False`` (``wechaty_puppet.get_logger``), so its lines bypass
  the host's logging: one more format on stderr, no ``LOG_LEVEL``, and handlers
  the host's secret masking cannot reach (it prints the token at start-up).
  Here every such logger gives up its console handler and propagates to the
  root logger like any library's, at level WARNING unless ``WECHATY_LOG`` is
  set (at INFO it writes ~30 lines per connection and one per contact).
  ``get_logger`` is patched before wechaty is imported, and
  ``wechaty_puppet_service`` (which wechaty imports lazily on connect) is
  imported here, so loggers made later are handed over as they are made.
"""

from __future__ import annotations

import logging
import os

import wechaty_puppet
import wechaty_puppet.logger as wechaty_logging
from wechaty_puppet.schemas.puppet import PuppetOptions

if PuppetOptions.__hash__ is None:  # the dataclass made it unhashable
    PuppetOptions.__hash__ = object.__hash__

_WECHATY_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_original_get_logger = wechaty_logging.get_logger


def _adopt(logger: logging.Logger) -> bool:
    """Hand one logger made by ``get_logger`` to the host's logging; False if not one."""
    console = [
        h
        for h in logger.handlers
        if type(h) is logging.StreamHandler
        and getattr(h.formatter, "_fmt", None) == _WECHATY_FORMAT
    ]
    if logger.propagate or not console:
        return False
    for handler in console:  # a WECHATY_LOG_FILE handler stays
        logger.removeHandler(handler)
    logger.propagate = True
    if not os.environ.get(wechaty_logging.WECHATY_LOG_KEY):
        logger.setLevel(logging.WARNING)
    return True


def _hosted_get_logger(name: str | None = None, file: str | None = None) -> logging.Logger:
    logger = _original_get_logger(name, file)
    _adopt(logger)
    return logger


def adopt_wechaty_loggers() -> int:
    """Route every python-wechaty logger made so far through the root logger; how many."""
    loggers = list(logging.root.manager.loggerDict.values())
    return sum(_adopt(lg) for lg in loggers if isinstance(lg, logging.Logger))


# wechaty's modules import get_logger from the wechaty_puppet package.
wechaty_logging.get_logger = _hosted_get_logger
wechaty_puppet.get_logger = _hosted_get_logger

import wechaty  # noqa: E402 (after the patches above)
import wechaty_puppet_service  # noqa: E402, F401 (wechaty imports it lazily, on connect)
from wechaty.user.contact import Contact  # noqa: E402
from wechaty.user.room import Room  # noqa: E402
from wechaty.user.tag import Tag  # noqa: E402
from wechaty.utils.async_helper import SingleIdContainer  # noqa: E402

adopt_wechaty_loggers()  # those wechaty_puppet made before the patch

__all__ = [
    "PuppetOptions",
    "adopt_wechaty_loggers",
    "clear_payload_pools",
    "reset_wechaty_globals",
    "wechaty",
]


def clear_payload_pools() -> None:
    """Forget cached contacts, rooms and tags (they are bound to an old puppet)."""
    Contact._pool.clear()
    Room._pool.clear()
    Tag._pool.clear()


def reset_wechaty_globals() -> None:
    """Clear every process-global cache of python-wechaty (between tests)."""
    clear_payload_pools()
    SingleIdContainer._instance = None

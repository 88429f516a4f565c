"""Every change GroupGuard makes to nonebot's and the OneBot adapter's internals.

Each function below replaces one attribute, is named for it, and says why. They
are what lets the QQ edge handle 2,000+ events/s (``make bench-qq``); which event
takes which lane because of them is written down in :mod:`.intake`.

Every target is checked before it is touched: if a nonebot or adapter upgrade
moved or reshaped it, :class:`NonebotChanged` is raised while the plugin loads,
so the bot does not start (moderation must never silently stop running, nor
silently lose the speed the lanes give). The versions these were written
against are pinned in ``requirements.lock``.

What is changed (applied by :meth:`.intake.Intake.install`):

- :func:`cache_type_validators`: ``type_validate_python`` in ``nonebot.compat``
  and the three modules that call it per event. nonebot builds a new pydantic
  ``TypeAdapter`` on every call (for the event and each message segment, twice);
  building the segment's regenerates its schema each time, about two thirds of
  the parse (~0.27 -> ~0.09 ms per event). Ours builds each type's adapter once
  (pydantic's own advice); validation itself is unchanged.
- :func:`cache_event_model_lookup`: ``get_model`` and ``add_model`` of the
  adapter's ``event_models`` collator. It walks a prefix tree per event to find
  the event's model classes (15% of the parse); ours remembers the answer per
  event key and forgets it when models are added.
- :func:`run_before_matchers`: an entry in nonebot's private
  ``nonebot.message._event_preprocessors`` set. The public ``event_preprocessor``
  decorator resolves the callable's parameters per event with two anyio task
  groups (about 40% of handling); ours takes the ``bot`` and ``event`` nonebot
  already passes.
- :func:`replace_bot_handle_event`: ``Bot.handle_event`` of the OneBot v11 bot
  class, so a group message that nothing but moderation would see can skip
  nonebot's dispatch (the fast and raw lanes).
- :func:`replace_frame_parser`: ``json_to_event`` on the registered adapter
  *instance* (the receive loop calls it per frame; the class's method, which
  plugins and tests call, is unchanged), so an ordinary group message can be
  moderated from its JSON without becoming a pydantic event (the raw lane).

- :func:`coalesce_websocket_writes`: ``connection_made`` of uvicorn's sans-I/O
  WebSocket protocol, so the frames the bot writes in one turn of the event loop
  go out in one system call (:mod:`.coalesce`; ~15% of the loop's time in a raid).

What is read: the adapter's ``connections`` (the API lane, :mod:`.api_lane`, sends
on them and takes its own answers from :func:`.intake.read_frame`);
:func:`only_moderation_listens` looks at nonebot's private
pre/postprocessor sets and its matchers, per message (and per notice).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable, Hashable
from types import ModuleType
from typing import Any, TypeVar, cast

import nonebot.message as nonebot_message
from nonebot.adapters.onebot.v11 import Adapter, Bot, Event
from nonebot.matcher import matchers
from pydantic import TypeAdapter

from plugins.onebot_guard.coalesce import CoalescingTransport

T = TypeVar("T")
HandleEvent = Callable[[Bot, Any], Awaitable[None]]
ParseFrame = Callable[[Any], Any]


class NonebotChanged(RuntimeError):
    """An internal of nonebot or the OneBot adapter that we patch is gone or reshaped."""


def require(owner: object, name: str, check: Callable[[Any], bool], what: str) -> Any:
    """``owner.name``, if it exists and passes ``check``; else raise :class:`NonebotChanged`."""
    value = getattr(owner, name, None)
    if value is None or not check(value):
        where = getattr(owner, "__name__", type(owner).__name__)
        raise NonebotChanged(
            f"{where}.{name} is not {what}: nonebot or nonebot-adapter-onebot changed; "
            "the QQ intake (plugins/onebot_guard/patches.py) needs a review for this "
            "version (the tested ones are pinned in requirements.lock)"
        )
    return value


# Checked at import: the plugin cannot load without them.
_preprocessors: set[Any] = require(
    nonebot_message, "_event_preprocessors", lambda v: type(v) is set, "a set"
)
_postprocessors: set[Any] = require(
    nonebot_message, "_event_postprocessors", lambda v: type(v) is set, "a set"
)


# ------------------------------------------------------------------ parsing


# Modules whose ``type_validate_python`` (imported from nonebot.compat) runs per event.
PER_EVENT_VALIDATOR_USERS = (
    "nonebot.compat",
    "nonebot.internal.adapter.message",
    "nonebot.adapters.onebot.v11.adapter",
    "nonebot.adapters.onebot.v11.bot",
)


@functools.cache
def _type_adapter(type_: Hashable) -> TypeAdapter[Any]:
    return TypeAdapter(cast(Any, type_))


def type_validate_python(type_: type[T], data: Any) -> T:
    """``nonebot.compat.type_validate_python`` with one ``TypeAdapter`` per type."""
    adapter: Any = _type_adapter(cast(Hashable, type_))
    result: T = adapter.validate_python(data)
    return result


def cache_type_validators() -> list[str]:
    """Replace ``type_validate_python`` in :data:`PER_EVENT_VALIDATOR_USERS`; their names."""
    compat = importlib.import_module("nonebot.compat")
    require(compat, "PYDANTIC_V2", lambda v: v is True, "True (pydantic v2)")
    original = require(compat, "type_validate_python", callable, "a function")
    patched = []
    for name in PER_EVENT_VALIDATOR_USERS:
        module: ModuleType = importlib.import_module(name)
        require(
            module,
            "type_validate_python",
            lambda v: v is original or v is type_validate_python,
            "nonebot.compat's type_validate_python",
        )
        module.type_validate_python = type_validate_python  # type: ignore[attr-defined]
        patched.append(name)
    return patched


def cache_event_model_lookup(collator: Any) -> None:
    """Replace the collator's ``get_model`` (memoised per event key) and ``add_model``
    (which also forgets what was memoised)."""
    get_model = require(collator, "get_model", callable, "a method")
    key_from_dict = require(collator, "_key_from_dict", callable, "a method")
    add_model = require(collator, "add_model", callable, "a method")
    known: dict[str, list[Any]] = {}

    def cached_get_model(data: dict[str, Any]) -> list[Any]:
        key = key_from_dict(data)
        models = known.get(key)
        if models is None:
            models = known[key] = get_model(data)
        return list(models)

    def add_and_forget(*models: Any) -> None:
        add_model(*models)
        known.clear()

    collator.get_model = cached_get_model
    collator.add_model = add_and_forget


# ------------------------------------------------------------------ dispatch


class Preprocessor:
    """What nonebot calls for a preprocessor: ``proc(bot=..., event=..., state=..., ...)``."""

    def __init__(self, func: Callable[[Bot, Event], Awaitable[None]]) -> None:
        self.func = func

    async def __call__(self, *, bot: Any, event: Any, **_context: Any) -> None:
        if isinstance(bot, Bot) and isinstance(event, Event):  # OneBot v11 only, as declared
            await self.func(bot, event)

    def __repr__(self) -> str:
        return f"Preprocessor({self.func.__qualname__})"


def run_before_matchers(func: Callable[[Bot, Event], Awaitable[None]]) -> None:
    """Add ``func(bot, event)`` to nonebot's preprocessor set: it runs for every event
    before any matcher, and may stop the event with ``IgnoredException``."""
    _preprocessors.add(Preprocessor(func))


def only_moderation_listens(post_type: str = "message") -> bool:
    """Whether nothing but our preprocessor would see an event of ``post_type``
    ("message", "notice"...) in nonebot.

    Asked for every message (plain loops: it is on the hot path).
    """
    if _postprocessors:
        return False
    for preprocessor in _preprocessors:
        if type(preprocessor) is not Preprocessor:
            return False
    for group in matchers.values():
        for matcher in group:
            if matcher.type in ("", post_type):
                return False
    return True


def replace_bot_handle_event(handle_event: HandleEvent) -> HandleEvent:
    """Make ``handle_event`` the OneBot ``Bot.handle_event``; return the adapter's own."""
    full_path: HandleEvent = require(Bot, "handle_event", callable, "a method")
    Bot.handle_event = handle_event  # type: ignore[method-assign,assignment]
    return full_path


def replace_frame_parser(adapter: Adapter, parse_frame: ParseFrame) -> ParseFrame:
    """Make ``parse_frame`` the adapter instance's ``json_to_event``, which its receive
    loop calls for every frame; return the parser it had (any earlier patch holds)."""
    parse: ParseFrame = require(adapter, "json_to_event", callable, "a method")
    adapter.json_to_event = parse_frame  # type: ignore[method-assign,assignment]
    return parse


# ------------------------------------------------------------------ sending


def coalesce_websocket_writes() -> bool:
    """Wrap the transport of every WebSocket connection uvicorn's sans-I/O implementation
    (the one nonebot's FastAPI driver runs) accepts in a
    :class:`~.coalesce.CoalescingTransport`; True if installed now, False if it was.

    ``connection_made`` is where the protocol keeps its transport: the wrapper is put
    in its place before the original runs, so every frame it writes goes through it.
    """
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    made = require(WebSocketsSansIOProtocol, "connection_made", callable, "a method")
    if getattr(made, "_coalescing", False):
        return False

    @functools.wraps(made)
    def connection_made(self: Any, transport: Any) -> None:
        made(self, CoalescingTransport(transport, asyncio.get_running_loop()))

    connection_made._coalescing = True  # type: ignore[attr-defined]
    WebSocketsSansIOProtocol.connection_made = connection_made  # type: ignore[method-assign]
    return True

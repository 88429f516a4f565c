"""Costs nonebot adds to every event, removed without changing what it does.

Measured under ``make bench-qq`` (in-process, a clean group message, WARNING log level):

- **Parsing**: ``nonebot.compat.type_validate_python`` builds a new pydantic
  ``TypeAdapter`` on every call, and the adapter calls it for the event and
  for each message segment (twice: ``message`` and ``original_message``).
  Building an adapter for the segment dataclass regenerates its schema every
  time: about two thirds of the parse cost (~0.27 -> ~0.09 ms per event).
  :func:`cache_type_adapters` gives the modules that use it a version that
  builds each type's adapter once (pydantic's own advice: "instantiate
  TypeAdapter once"); validation itself is unchanged.
- **Event model lookup**: the adapter finds each event's model classes by
  walking a prefix tree (pygtrie) with the event's type fields: 15% of the
  parse (28.9 -> 24.6 µs for a group message, timed in-process).
  :func:`cache_event_models` remembers the answer per key (a handful of event
  types) and forgets it when models are added.
- **Preprocessor parameters**: nonebot resolves an ``event_preprocessor``'s
  parameters per event with two anyio task groups (check, then solve), one task
  per parameter: with ``bot`` and ``event`` that is four tasks and two groups
  per event, about 40% of the handling cost. :func:`register_first` registers a
  callable that takes the ``bot`` and ``event`` nonebot already passes. It uses
  nonebot's preprocessor set (a private name); if that ever moves, it falls
  back to the public ``event_preprocessor`` decorator, so moderation never
  silently stops running (the nonebug tests would also fail).
- **The raw lane**: an ordinary group message that nothing but moderation
  would see need not become a pydantic event at all. :func:`install_raw_lane`
  reads it straight from the JSON (``GroupMessage.of_json``, which accepts only
  JSON whose fields already have the model's types) on the OneBot connection's
  receive path: event validation (the segment models, a deep copy of the
  message) was about a quarter of a clean message's cost. Anything else, or the
  moment another plugin wants messages, takes the adapter's own path.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

import nonebot.message as nonebot_message
from nonebot.adapters.onebot.v11 import Adapter, Bot, Event, GroupMessageEvent
from nonebot.exception import IgnoredException
from nonebot.matcher import matchers
from nonebot.message import event_preprocessor
from pydantic import TypeAdapter

log = logging.getLogger(__name__)

T = TypeVar("T")

# Modules whose ``type_validate_python`` (imported from nonebot.compat) runs per event.
PER_EVENT_USERS = (
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


def cache_type_adapters() -> list[str]:
    """Point the per-event users of nonebot's validator at the caching one; return their names.

    Only with pydantic v2 (where nonebot builds a ``TypeAdapter`` per call), and only
    in modules that still use nonebot's own function.
    """
    compat = importlib.import_module("nonebot.compat")
    original = getattr(compat, "type_validate_python", None)
    if not getattr(compat, "PYDANTIC_V2", False) or original is None:
        return []
    patched = []
    for name in PER_EVENT_USERS:
        module = importlib.import_module(name)
        if getattr(module, "type_validate_python", None) is original:
            module.type_validate_python = type_validate_python  # type: ignore[attr-defined]
            patched.append(name)
    return patched


class _Preprocessor:
    """What nonebot calls for a preprocessor: ``proc(bot=..., event=..., state=..., ...)``."""

    def __init__(self, func: Callable[[Bot, Event], Awaitable[None]]) -> None:
        self.func = func

    async def __call__(self, *, bot: Any, event: Any, **_context: Any) -> None:
        if isinstance(bot, Bot) and isinstance(event, Event):  # OneBot v11 only, as declared
            await self.func(bot, event)

    def __repr__(self) -> str:
        return f"Preprocessor({self.func.__qualname__})"


def register_first(func: Callable[[Bot, Event], Awaitable[None]]) -> None:
    """Run ``func(bot, event)`` for every event before any matcher (an event preprocessor)."""
    preprocessors = getattr(nonebot_message, "_event_preprocessors", None)
    if isinstance(preprocessors, set):
        preprocessors.add(_Preprocessor(func))
        return
    log.warning("nonebot's preprocessor set moved; using event_preprocessor (slower)")
    event_preprocessor(func)


def _only_ours() -> bool:
    """Whether nothing but our preprocessor would see a message event in nonebot.

    Asked for every message (plain loops: it is on the hot path).
    """
    preprocessors = getattr(nonebot_message, "_event_preprocessors", None)
    postprocessors = getattr(nonebot_message, "_event_postprocessors", None)
    if type(preprocessors) is not set or type(postprocessors) is not set or postprocessors:
        return False  # nonebot's internals moved (take the full path), or a postprocessor
    for preprocessor in preprocessors:
        if type(preprocessor) is not _Preprocessor:
            return False
    for group in matchers.values():
        for matcher in group:
            if matcher.type in ("", "message"):
                return False
    return True


def install_fast_lane(moderate: Callable[[Bot, Event], Awaitable[None]]) -> None:
    """Let group messages that only ``moderate`` would see skip nonebot's dispatch.

    ``moderate`` is the preprocessor registered with :func:`register_first`; it may
    raise ``IgnoredException`` as it does there.
    """
    full_path = Bot.handle_event

    async def handle_event(self: Bot, event: Event) -> None:
        if (
            isinstance(event, GroupMessageEvent)
            and not any(segment.type == "reply" for segment in event.original_message)
            and _only_ours()
        ):
            event.message.reduce()  # as the adapter does
            with contextlib.suppress(IgnoredException):  # stopping is all it means here
                await moderate(self, event)
            return
        await full_path(self, event)

    Bot.handle_event = handle_event  # type: ignore[method-assign]


class RawEvent:
    """An event the raw lane took: its JSON and what moderation reads of it."""

    __slots__ = ("data", "read")

    def __init__(self, data: dict[str, Any], read: Any) -> None:
        self.data = data
        self.read = read


def install_raw_lane(
    adapter: Adapter,
    read: Callable[[dict[str, Any]], T | None],
    moderate: Callable[[Bot, T], Awaitable[None]],
) -> None:
    """Moderate what ``read`` accepts straight from the JSON, without the adapter's event.

    Only on ``adapter``'s own receive path (its instance's ``json_to_event``: the class's,
    which plugins and tests call, is unchanged), and only while :func:`_only_ours` holds,
    checked again when the event is handled; otherwise the event is parsed as the adapter
    would and goes its way. ``read`` returns None for anything it does not take; if it
    raises, the event goes the adapter's way too (the receive loop must never see an
    exception: the adapter closes the connection on one).

    What the lane hands ``Bot.handle_event`` is a :class:`RawEvent`, not an ``Event``:
    only while no other plugin looks at messages, and only our wrapper receives it.
    """
    parse = adapter.json_to_event  # (bound before we replace it: any earlier patch holds)

    def json_to_event(json_data: Any) -> Event | RawEvent | None:
        if type(json_data) is dict and json_data.get("post_type") == "message" and _only_ours():
            try:
                taken = read(json_data)
            except Exception:
                log.exception("raw lane could not read a message; the adapter parses it")
                taken = None
            if taken is not None:
                return RawEvent(json_data, taken)
        return parse(json_data)

    adapter.json_to_event = json_to_event  # type: ignore[method-assign,assignment]
    after = Bot.handle_event

    async def handle_event(self: Bot, event: Event | RawEvent) -> None:
        if isinstance(event, RawEvent):
            if _only_ours():
                await moderate(self, event.read)
                return
            parsed = parse(event.data)  # a matcher came in meanwhile
            if parsed is None:
                return
            event = parsed
        await after(self, event)

    Bot.handle_event = handle_event  # type: ignore[method-assign]


def cache_event_models(collator: Any) -> bool:
    """Remember the OneBot collator's model lists per event key; False if its shape moved."""
    get_model = getattr(collator, "get_model", None)
    key_from_dict = getattr(collator, "_key_from_dict", None)
    add_model = getattr(collator, "add_model", None)
    if get_model is None or key_from_dict is None or add_model is None:
        log.warning("OneBot event model lookup changed shape; not cached")
        return False
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
    return True

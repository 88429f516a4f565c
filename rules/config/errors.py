"""Config errors and their wording: one line per bad key, never a secret's value.

:class:`ConfigError` collects the problems of one source (a file, or a group's
overrides set by command); :func:`describe` turns one pydantic error into a line
that names the key (``groups."qq:1".flood.repeat: ...``) and, for a misspelled
key, suggests the field it was probably meant to be.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` are one line per bad key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid config {self.source}:\n{lines}"


_KEYED_MESSAGE = re.compile(r"^([a-z_][a-z_.]*): (.*)$", re.S)
# Keys whose values are secret (or hold one): errors name them, never show the value.
SECRET_KEYS = frozenset({"onebot.access_token", "wechat.token", "database.url"})


def describe(error: Mapping[str, Any], prefix: str, model: type[BaseModel]) -> str:
    """One pydantic error of ``model`` as ``<prefix><key>: <what is wrong>``."""
    loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    key = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(top level)"
    if error["type"] == "extra_forbidden":
        hint = _suggest(error["loc"], model)
        return f"{key}: unknown key{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    keyed = _KEYED_MESSAGE.match(message)
    if keyed:  # a model validator naming the key inside its section: "endpoint: ..."
        return f"{prefix}{loc + '.' if loc else ''}{keyed[1]}: {keyed[2]}"
    got = error.get("input")
    shown = (
        ""
        if loc in SECRET_KEYS or isinstance(got, dict | list) or got is None or repr(got) in message
        else f" (got {got!r})"
    )
    return f"{key}: {message}{shown}"


def _suggest(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    """' (did you mean 'repeat'?)' for a misspelled key, from the model's fields."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return ""
        current = field.annotation
    names = list(getattr(current, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""Best-effort caches of built structures on disk (automata, dictionaries)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_cache(path: Path, kind: type[T]) -> T | None:
    """The ``kind`` pickled at ``path``; None when missing, unreadable or of another kind.

    Anything unpickling raises means "no cache": a file written by another version
    (a class since moved or renamed raises ImportError), truncated or corrupt.
    """
    try:
        with path.open("rb") as fh:
            loaded = pickle.load(fh)
    except Exception:
        return None
    return loaded if isinstance(loaded, kind) else None


def write_cache(path: Path, value: object) -> None:
    """Pickle ``value`` to ``path`` atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass

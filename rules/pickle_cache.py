"""Best-effort caches of built structures on disk (automata, dictionaries)."""

from __future__ import annotations

import pickle
from pathlib import Path


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

"""Caches on disk are shortcuts: whatever is wrong with one, it is rebuilt, never fatal."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from rules.core.pickle_cache import read_cache, write_cache


class Built:
    def __init__(self, value: int) -> None:
        self.value = value


def test_a_written_cache_reads_back(tmp_path: Path) -> None:
    write_cache(tmp_path / "c.pickle", Built(3))
    found = read_cache(tmp_path / "c.pickle", Built)
    assert found is not None and found.value == 3
    assert read_cache(tmp_path / "c.pickle", dict) is None  # another kind
    assert read_cache(tmp_path / "missing.pickle", Built) is None


@pytest.mark.parametrize(
    "content",
    [
        # written by a version whose class lived in a module that is gone (ImportError)
        b"cnormalize_old\nTables\n.",
        b"",  # empty (EOFError)
        b"not a pickle at all",  # UnpicklingError
        pickle.dumps(Built(1))[:-5],  # truncated
    ],
)
def test_a_cache_from_elsewhere_or_damaged_is_no_cache(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.pickle"
    path.write_bytes(content)
    assert read_cache(path, Built) is None

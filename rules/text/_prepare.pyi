"""Types of the C extension ``_prepare.c`` (mirrors ``rules.text.normalize._prepare``)."""

from collections.abc import Callable, Sequence

def load(
    mark_list: Sequence[str | int | None],
    sound_list: Sequence[str | int | None],
    noise: str,
    high_start: int,
    fold_high: Callable[[str], str],
) -> None: ...
def prepare(text: str) -> tuple[str, str, str, str, str, list[tuple[int, int]]]: ...

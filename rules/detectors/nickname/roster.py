"""The member roster: who is a real person here, and which accounts are theirs.

A roster is a CSV file with a header row. Columns (English or Chinese headers):

- ``name`` / 姓名 (required), ``department`` / 部门, ``role`` / 职务,
- ``qq`` / QQ and ``wechat`` / 微信: the person's account ids, several
  separated by ``;`` (bare ids; ``qq:``/``wechat:`` prefixes are accepted),
- ``status`` / 状态: empty or ``active`` / 在职 for current people,
  ``left`` / 离职 / 已离职 for people who have left.

Rosters are loaded once by :class:`RosterBook` (detectors do no I/O) and
reloaded when the file changes, by the scheduled audit calling
:meth:`RosterBook.refresh`.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rules.core.model import Platform, qualify
from rules.detectors.nickname.cards import clean

log = logging.getLogger(__name__)

_HEADERS = {
    "name": "name",
    "姓名": "name",
    "department": "department",
    "dept": "department",
    "部门": "department",
    "单位": "department",
    "role": "role",
    "职务": "role",
    "角色": "role",
    "qq": "qq",
    "qq号": "qq",
    "wechat": "wechat",
    "微信": "wechat",
    "微信号": "wechat",
    "status": "status",
    "状态": "status",
}
_LEFT = {"left", "离职", "已离职", "inactive"}
_ACTIVE = {"", "active", "在职"}


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    department: str = ""
    role: str = ""
    ids: frozenset[str] = frozenset()
    left: bool = False

    def has_platform(self, platform: str) -> bool:
        return any(i.startswith(platform + ":") for i in self.ids)


class Roster:
    """People by account id and by name (names compared in cleaned, simplified form)."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.people = tuple(people)
        by_id: dict[str, list[Person]] = {}
        self._by_name: dict[str, list[Person]] = {}
        for person in self.people:
            self._by_name.setdefault(clean(person.name), []).append(person)
            for account in person.ids:
                by_id.setdefault(account, []).append(person)
        self._by_id = {k: v[0] for k, v in by_id.items() if len(v) == 1}
        self.ambiguous_ids = frozenset(k for k, v in by_id.items() if len(v) > 1)

    def person_for(self, member_id: str) -> Person | None:
        """The one person an account belongs to (None if unknown or listed twice)."""
        return self._by_id.get(member_id)

    def named(self, name: str) -> list[Person]:
        return list(self._by_name.get(clean(name), ()))

    def lists_platform(self, platform: str) -> bool:
        """Whether anyone in the roster has an account on ``platform``."""
        return any(p.has_platform(platform) for p in self.people)

    @classmethod
    def from_csv(cls, text: str, source: str = "<roster>") -> Roster:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        rows = [r for r in reader]
        if not rows:
            raise RosterError(f"{source}: empty file (expected a header row with 'name')")
        columns = [_HEADERS.get(h.strip().lower(), "") for h in rows[0]]
        if "name" not in columns:
            raise RosterError(f"{source}: header has no 'name' (姓名) column: {rows[0]}")
        people = []
        for line_no, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            values = _cells(columns, row)
            name = values.get("name", "")
            if not name:
                raise RosterError(f"{source}:{line_no}: empty name")
            status = values.get("status", "").lower()
            if status not in _LEFT | _ACTIVE:
                raise RosterError(
                    f"{source}:{line_no}: unknown status {status!r} (use 在职/active or 离职/left)"
                )
            ids = _ids(Platform.QQ, values.get("qq", "")) | _ids(
                Platform.WECHAT, values.get("wechat", "")
            )
            people.append(
                Person(
                    name=name,
                    department=values.get("department", ""),
                    role=values.get("role", ""),
                    ids=ids,
                    left=status in _LEFT,
                )
            )
        return cls(people)

    @classmethod
    def load(cls, path: Path) -> Roster:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RosterError(f"{path}: cannot read roster: {exc.strerror}") from None
        return cls.from_csv(text, str(path))


def _cells(columns: list[str], row: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for column, cell in zip(columns, row, strict=False):
        if column:
            values[column] = cell.strip()
    return values


def _ids(platform: Platform, cell: str) -> frozenset[str]:
    parts = cell.replace("|", ";").replace(",", ";").replace("；", ";").split(";")
    return frozenset(qualify(platform, p.strip()) for p in parts if p.strip())


class RosterBook:
    """Rosters by path, loaded up front and reloaded when their file changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._rosters: dict[str, tuple[float | None, Roster]] = {}

    def path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.root / path

    def load(self, names: Iterable[str]) -> None:
        """Load every named roster now; RosterError names a bad file."""
        for name in names:
            if name and name not in self._rosters:
                path = self.path(name)
                self._rosters[name] = (_mtime(path), Roster.load(path))

    def get(self, name: str) -> Roster | None:
        """The loaded roster ``name`` (None for "" or a roster never loaded)."""
        entry = self._rosters.get(name)
        return entry[1] if entry else None

    def refresh(self) -> list[str]:
        """Reload rosters whose file changed; return problems (old roster kept)."""
        problems = []
        for name, (mtime, _) in list(self._rosters.items()):
            if mtime is None:  # installed with put(), not read from a file
                continue
            path = self.path(name)
            now = _mtime(path)
            if now != mtime:
                try:
                    self._rosters[name] = (now, Roster.load(path))
                except RosterError as exc:
                    log.warning("roster not reloaded: %s", exc)
                    problems.append(str(exc))
        return problems

    def put(self, name: str, roster: Roster) -> None:
        """Install a roster directly (tests, or rosters not read from files)."""
        self._rosters[name] = (None, roster)

    @property
    def rosters(self) -> Mapping[str, Roster]:
        return {k: v[1] for k, v in self._rosters.items()}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0

"""The term index behind the keyword detector: one Aho-Corasick automaton.

Every term is added under its folded form (:func:`rules.normalize.fold`), so
the automaton matches the folded message in one pass whatever the evasion.
Chinese terms of two or more characters are also added under their *sound*
key (one private-use mark per pinyin syllable) and, when that spelling is not
also the sound of an ordinary word, under their Latin pinyin (赌博 -> dubo).
The keys live in disjoint alphabets, so one automaton serves all three.

The homophone guard: a sound match whose folded text is an ordinary word of
jieba's dictionary (病毒 for 冰毒) is not a hit. ``guard`` holds exactly those
ordinary words that sound like some term, computed when the index is built.
"""

from __future__ import annotations

import gc
import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick

from rules import normalize

INDEX_VERSION = 5
DIRECT, SOUND, PINYIN = 0, 1, 2
ALLOW = "allow"  # the category of allow-listed terms (file ``allow.txt``)
MIN_PINYIN_LETTERS = 4
ROOT_CHARS = 6000  # characters put first under the root, most frequent first
SMALL_INDEX = 200  # below this many terms the root is small; no need to order it


class Term(NamedTuple):
    """A listed term. ``scope`` is "" for the shipped lists, "*" or a group id for custom words."""

    term: str
    category: str
    scope: str = ""

    @property
    def allow(self) -> bool:
        return self.category == ALLOW


class Key(NamedTuple):
    """The value stored in the automaton for one key."""

    length: int
    mode: int  # DIRECT, SOUND or PINYIN
    left_word: str  # "a" / "0" when the key starts with a letter / digit: check the boundary
    right_word: str
    folded: frozenset[str]  # folded forms of the terms (for SOUND keys)
    terms: tuple[Term, ...]


# A Key as plain tuples and strings: unpickles without a constructor call per object.
KeyRow = tuple[int, int, str, str, tuple[str, ...], tuple[tuple[str, str, str], ...]]


def _row(key: Key) -> KeyRow:
    """A Key as it is stored (and pickled)."""
    terms = tuple((t.term, t.category, t.scope) for t in key.terms)
    return (key.length, key.mode, key.left_word, key.right_word, tuple(sorted(key.folded)), terms)


def _key(row: KeyRow) -> Key:
    """The Key of a stored row."""
    length, mode, left, right, folded, terms = row
    return Key(length, mode, left, right, frozenset(folded), tuple(Term(*t) for t in terms))


def _edge(ch: str) -> str:
    if normalize.is_latin(ch):
        return "a"
    return "0" if ch.isdigit() else ""


def _is_chinese(folded: str) -> bool:
    return all(ord(c) in normalize.SOUND for c in folded)


def read_word_list(path: Path) -> list[str]:
    """Terms of one word-list file: stripped, non-empty, ``#`` comments dropped."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            terms.append(term)
    return terms


def _sound_index() -> dict[str, frozenset[str]]:
    """Sound key -> folded ordinary words with that sound (cached under data/cache)."""
    path = normalize.CACHE_DIR / f"ordinary-sound-v{normalize.TABLE_VERSION}.pickle"
    try:
        with path.open("rb") as fh:
            cached: dict[str, frozenset[str]] = pickle.load(fh)
        return cached
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    grouped: dict[str, set[str]] = {}
    for word in normalize.ordinary_words():
        if _is_chinese(word):
            grouped.setdefault(normalize.sound(word), set()).add(word)
    index = {key: frozenset(words) for key, words in grouped.items()}
    _write_cache(path, index)
    return index


def _char_order() -> str:
    """Characters of folded text, most frequent first (ASCII, then jieba's character counts).

    pyahocorasick scans a node's children linearly, and the root has thousands;
    adding every common character to the root first, in this order, keeps the
    scan short for ordinary text (a 100x difference on the 65k-word list).
    """
    path = normalize.CACHE_DIR / f"char-order-v{normalize.TABLE_VERSION}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    import jieba

    counts: dict[str, int] = {}
    dictionary = Path(jieba.__file__).resolve().parent / "dict.txt"
    with dictionary.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, rest = line.partition(" ")
            freq = int(rest.split(" ", 1)[0] or 0)
            for ch in normalize.fold(word):
                counts[ch] = counts.get(ch, 0) + freq
                mark = normalize.SOUND.get(ord(ch))
                if mark:
                    counts[mark] = counts.get(mark, 0) + freq
    ascii_first = "eaitonsrhlcdumpfgwybvkxjqz0123456789"
    ranked = sorted(counts, key=lambda c: -counts[c])
    order = ascii_first + "".join(c for c in ranked if c not in ascii_first)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(order, encoding="utf-8")
    except OSError:
        pass
    return order


def _load_without_gc(data: bytes) -> object:
    """Unpickle with the cyclic GC paused (it would scan the fresh rows many times)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


def _write_cache(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass


class TermIndex:
    """One automaton over all terms; see the module docstring for the three key kinds."""

    def __init__(self, terms: Iterable[Term], pinyin: bool = True) -> None:
        direct: dict[str, list[Term]] = {}
        for term in terms:
            key = normalize.fold(term.term)
            if key:
                direct.setdefault(key, []).append(term)
        sounds: dict[str, list[tuple[str, Term]]] = {}
        if pinyin:
            for key, listed in direct.items():
                if len(key) >= 2 and _is_chinese(key):
                    skey = normalize.sound(key)
                    if len(skey) >= 2:
                        sounds.setdefault(skey, []).extend((key, t) for t in listed)

        self.guard: frozenset[str] = frozenset()
        ambiguous: set[str] = set()
        if sounds:
            ordinary = _sound_index()
            guard: set[str] = set()
            for skey, pairs in sounds.items():
                alike = ordinary.get(skey, frozenset()) - {key for key, _ in pairs}
                guard.update(alike)
                if alike:
                    ambiguous.add(skey)
            self.guard = frozenset(guard)

        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        keys: list[Key] = []
        if len(direct) > SMALL_INDEX:
            for ch in _char_order()[:ROOT_CHARS]:
                automaton.add_word(ch + "\0", -1)  # "\0" never survives folding
        for key, listed in direct.items():
            automaton.add_word(key, len(keys))
            keys.append(
                Key(len(key), DIRECT, _edge(key[0]), _edge(key[-1]), frozenset(), tuple(listed))
            )
        for skey, pairs in sounds.items():
            folded = frozenset(key for key, _ in pairs)
            listed_terms = tuple(dict.fromkeys(t for _, t in pairs))
            automaton.add_word(skey, len(keys))
            keys.append(Key(len(skey), SOUND, "", "", folded, listed_terms))
            spelled = normalize.pinyin_of(skey)
            if (
                skey not in ambiguous
                and len(spelled) >= MIN_PINYIN_LETTERS
                and spelled not in direct
                and not automaton.exists(spelled)
            ):
                automaton.add_word(spelled, len(keys))
                keys.append(Key(len(spelled), PINYIN, "a", "a", folded, listed_terms))
        self.size = len(direct)
        self._rows = [_row(key) for key in keys]
        self._made: dict[int, Key] = dict(enumerate(keys))
        self.automaton = automaton
        if len(automaton):
            automaton.make_automaton()

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without Key objects (rows only): a cached load makes them on first use."""
        state = dict(self.__dict__)
        state["_made"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def key(self, number: int) -> Key:
        """The Key stored in the automaton under ``number`` (made once, then reused)."""
        made = self._made.get(number)
        if made is None:
            made = self._made[number] = _key(self._rows[number])
        return made

    def iter(self, text: str) -> list[tuple[int, Key]]:
        """``(end_index, key)`` for every key found in ``text`` (end inclusive)."""
        if not self.size or not text:
            return []
        made = self._made
        return [(end, made.get(i) or self.key(i)) for end, i in self.automaton.iter(text)]

    @classmethod
    def from_files(cls, paths: Iterable[Path], cache_dir: Path | None = None) -> TermIndex:
        """The index of word-list files (category = file stem), cached by content hash."""
        paths = sorted(paths)
        digest = hashlib.sha256(f"{INDEX_VERSION}/{normalize.TABLE_VERSION}".encode())
        contents = []
        for path in paths:
            data = path.read_bytes()
            digest.update(path.stem.encode() + b"\0" + data + b"\0")
            contents.append((path.stem, data.decode("utf-8")))
        cache = None
        if cache_dir is not None:
            cache = cache_dir / f"keywords-{digest.hexdigest()[:24]}.pickle"
            try:
                with cache.open("rb") as fh:
                    loaded = _load_without_gc(fh.read())
                if isinstance(loaded, TermIndex):
                    return loaded
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
                pass
        index = cls(
            Term(term, stem)
            for stem, text in contents
            for line in text.splitlines()
            if (term := line.split("#", 1)[0].strip())
        )
        if cache is not None:
            _write_cache(cache, index)
        return index

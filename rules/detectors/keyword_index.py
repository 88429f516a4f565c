"""The term index behind the keyword detector: two Aho-Corasick automata over folded keys.

Every term is added under its folded form (:func:`rules.normalize.fold`), so
the automata match the folded message whatever the evasion. Chinese terms of
two or more characters are also added under their *sound* key (one mark per
pinyin syllable, :func:`rules.normalize.sound`) and, when that spelling is not
also the sound of an ordinary word, under their Latin pinyin (赌博 -> dubo).

Three automata, split so that a message needs few searches and the builds
can run side by side:

* ``han``: term keys with a character outside ASCII, searched in the folded
  text (not for an ASCII message);
* ``sound``: sound keys and ASCII term keys (Latin and digit terms), searched
  in the sounded text, where ASCII stays as it is;
* ``pinyin``: pinyin spellings, searched in the folded text only when it has
  a run of at least ``MIN_PINYIN_LETTERS`` Latin letters.

The automata are ``ahocorasick_rs`` (Rust ``aho-corasick``): on the 65k-word
list it finds all overlapping matches several times faster than pyahocorasick,
whose trie scans a node's children linearly (thousands at the root for
Chinese); ``make bench-filter`` prints both in the same run. An automaton
cannot be pickled, so the cache holds the keys and their rows and a load
rebuilds the automata in two threads (the build releases the GIL).

The homophone guard: a sound match whose folded text is an ordinary word of
jieba's dictionary (病毒 for 冰毒) is not a hit. ``guard`` holds exactly those
ordinary words that sound like some term, computed when the index is built.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ahocorasick_rs import AhoCorasick

from rules import normalize

INDEX_VERSION = 9
DIRECT, SOUND, PINYIN = 0, 1, 2  # what a key is
HAN, SOUNDS, PINYINS = 0, 1, 2  # which automaton holds it
ALLOW = "allow"  # the category of allow-listed terms (file ``allow.txt``)
MIN_PINYIN_LETTERS = 4
PARALLEL_BUILD = 20_000  # keys from which the two automata are built in two threads


class Term(NamedTuple):
    """A listed term. ``scope`` is "" for the shipped lists, "*" or a group id for custom words."""

    term: str
    category: str
    scope: str = ""

    @property
    def allow(self) -> bool:
        return self.category == ALLOW


class Key(NamedTuple):
    """What one automaton key stands for."""

    length: int
    mode: int  # DIRECT, SOUND or PINYIN
    left_word: str  # "a" / "0" when the key starts with a letter / digit: check the boundary
    right_word: str
    folded: frozenset[str]  # folded forms of the terms (for SOUND and PINYIN keys)
    terms: tuple[Term, ...]
    # Per term, its fold before repeats collapsed when that has repeats (妈妈), else "";
    # ``single`` are the terms without such repeats (all of them when ``runs`` is empty).
    runs: tuple[str, ...] = ()
    single: tuple[Term, ...] = ()


# A match: (key, start, end) in the searched text, end exclusive.
Hit = tuple[Key, int, int]


def _row(
    length: int, mode: int, left: str, right: str, folded: Iterable[str], terms: Iterable[Term]
) -> str:
    """A Key as it is stored: one JSON string, so the cyclic GC has nothing to walk."""
    return json.dumps(
        [length, mode, left, right, sorted(folded), [list(t) for t in terms]],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _key(row: str) -> Key:
    """The Key of a stored row (made on the key's first hit)."""
    length, mode, left, right, folded, terms = json.loads(row)
    listed = tuple(Term(*t) for t in terms)
    runs: tuple[str, ...] = ()
    single = listed
    if mode == DIRECT:
        pre = [normalize.prefold(t.term) for t in listed]
        if any(len(p) != length for p in pre):
            runs = tuple(p if len(p) != length else "" for p in pre)
            single = tuple(t for t, need in zip(listed, runs, strict=True) if not need)
    return Key(length, mode, left, right, frozenset(folded), listed, runs, single)


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


def _write_cache(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass


class Automaton:
    """One automaton with the stored rows of its keys and the Keys made from them."""

    __slots__ = ("_search", "keys", "made", "rows")

    def __init__(self, keys: str, rows: tuple[str, ...]) -> None:
        self.keys = keys  # joined by newlines (folding never leaves one in a key)
        self.rows = rows  # a tuple of strings: the GC does not track it
        self.made: dict[int, Key] = {}  # Keys made so far, by match number
        self._search: Callable[..., list[tuple[int, int, int]]] = _NO_MATCHES

    def build(self) -> None:
        if self.keys:
            self._search = AhoCorasick(self.keys.split("\n")).find_matches_as_indexes

    def matches(self, text: str) -> list[tuple[int, int, int]]:
        """``(number, start, end)`` of every key in ``text``, overlapping, end exclusive."""
        return self._search(text, overlapping=True)

    def key(self, number: int) -> Key:
        """The Key of match ``number``."""
        key = self.made.get(number)
        if key is None:
            key = self.made[number] = _key(self.rows[number])
        return key

    def __getstate__(self) -> tuple[str, tuple[str, ...]]:
        return self.keys, self.rows

    def __setstate__(self, state: tuple[str, tuple[str, ...]]) -> None:
        self.keys, self.rows = state
        self.made = {}
        self._search = _NO_MATCHES


def _no_matches(haystack: str, overlapping: bool = True) -> list[tuple[int, int, int]]:
    return []


_NO_MATCHES: Callable[..., list[tuple[int, int, int]]] = _no_matches


def _build_all(automata: list[Automaton]) -> None:
    for automaton in automata:
        automaton.build()


def _build(automata: tuple[Automaton, ...]) -> None:
    """Build the automata; in two threads when big (the Rust build releases the GIL)."""
    if sum(len(a.rows) for a in automata) < PARALLEL_BUILD:
        for automaton in automata:
            automaton.build()
        return
    first, *rest = automata
    worker = threading.Thread(target=_build_all, args=(rest,))
    worker.start()
    first.build()
    worker.join()


class TermIndex:
    """The keys of all terms in two automata (see the module docstring)."""

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

        guard: set[str] = set()
        ambiguous: set[str] = set()
        spellings: set[str] = set()
        if sounds:
            ordinary = _sound_index()
            for skey, pairs in sounds.items():
                alike = ordinary.get(skey, frozenset()) - {key for key, _ in pairs}
                guard.update(alike)
                if alike:
                    ambiguous.add(skey)

        keys: dict[int, list[str]] = {HAN: [], SOUNDS: [], PINYINS: []}
        rows: dict[int, list[str]] = {HAN: [], SOUNDS: [], PINYINS: []}
        for key, listed in direct.items():
            which = SOUNDS if key.isascii() else HAN
            keys[which].append(key)
            rows[which].append(_row(len(key), DIRECT, _edge(key[0]), _edge(key[-1]), (), listed))
        for skey, pairs in sounds.items():
            folded = {key for key, _ in pairs}
            listed_terms = dict.fromkeys(t for _, t in pairs)
            keys[SOUNDS].append(skey)
            rows[SOUNDS].append(_row(len(skey), SOUND, "", "", folded, listed_terms))
            spelled = normalize.pinyin_of(skey)
            if (
                skey not in ambiguous
                and len(spelled) >= MIN_PINYIN_LETTERS
                and spelled not in direct
                and spelled not in spellings
            ):
                spellings.add(spelled)
                keys[PINYINS].append(spelled)
                rows[PINYINS].append(_row(len(spelled), PINYIN, "a", "a", folded, listed_terms))
        self.size = len(direct)
        self.guard: frozenset[str] = frozenset(guard)
        self.han, self.sound, self.pinyin = (
            Automaton("\n".join(keys[which]), tuple(rows[which]))
            for which in (HAN, SOUNDS, PINYINS)
        )
        _build((self.han, self.sound, self.pinyin))

    def __len__(self) -> int:
        return self.size

    @property
    def keys(self) -> int:
        """How many keys the automata hold (terms, sound keys, pinyin spellings)."""
        return len(self.han.rows) + len(self.sound.rows) + len(self.pinyin.rows)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A cached index: the automata are built again (the key rows are stored)."""
        self.__dict__.update(state)
        _build((self.han, self.sound, self.pinyin))

    def find(self, folded: str) -> list[Hit]:
        """Every term key (no sound or pinyin) in a folded text: ``(key, start, end)``."""
        hits = [(self.han.key(i), start, end) for i, start, end in self.han.matches(folded)]
        for i, start, end in self.sound.matches(folded):
            key = self.sound.key(i)
            if key.mode == DIRECT:
                hits.append((key, start, end))
        return hits

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
                    loaded = pickle.load(fh)
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

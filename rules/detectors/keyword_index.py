"""The term index behind the keyword detector: Aho-Corasick automata over folded keys.

Every term is added under its folded form (:func:`rules.text.normalize.fold`), so
the automata match the folded message whatever the evasion. Chinese terms of
two or more characters are also added under their *sound* key (one mark per
pinyin syllable, :func:`rules.text.normalize.sound`) and, when that spelling is not
also the sound of an ordinary word, under their Latin pinyin (赌博 -> dubo).

Three automata, split so that a message needs few searches:

* ``han``: term keys with a character outside ASCII, searched in the folded
  text (not for an ASCII message);
* ``sound``: sound keys and ASCII term keys (Latin and digit terms), searched
  in the sounded text, where ASCII stays as it is;
* ``pinyin``: pinyin spellings, searched in the folded text only when it has
  at least ``MIN_PINYIN_LETTERS`` Latin letters.

The automata are daachorse's character-wise double-array Aho-Corasick
(``CharwiseDoubleArrayAhoCorasick``, Rust): one transition per character (a
Chinese character is three in a byte automaton), all overlapping matches
several times faster than pyahocorasick, whose trie scans a node's children
one by one (thousands at the root for Chinese), and serialisable, so the
cache loads the built automata in milliseconds. ``make bench-filter`` times
both libraries on the same keys in the same run; the README says why.

The homophone guard: a sound match whose folded text is an ordinary word of
jieba's dictionary (病毒 for 冰毒) is not a hit. ``guard`` holds exactly those
ordinary words that sound like some term, computed when the index is built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

from daachorse import CharwiseDoubleArrayAhoCorasick

from rules.core.pickle_cache import read_cache, write_cache
from rules.text import normalize

INDEX_VERSION = 10
DIRECT, SOUND, PINYIN = 0, 1, 2  # what a key is
HAN, SOUNDS, PINYINS = 0, 1, 2  # which automaton holds it
ALLOW = "allow"  # the category of allow-listed terms (file ``allow.txt``)
MIN_PINYIN_LETTERS = 4


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
    cached: dict[str, frozenset[str]] | None = read_cache(path, dict)
    if cached is not None:
        return cached
    grouped: dict[str, set[str]] = {}
    for word in normalize.ordinary_words():
        if _is_chinese(word):
            grouped.setdefault(normalize.sound(word), set()).add(word)
    index = {key: frozenset(words) for key, words in grouped.items()}
    write_cache(path, index)
    return index


class Automaton:
    """One automaton with the stored rows of its keys and the Keys made from them.

    Pickled with the automaton itself (daachorse serialises it): a cached load
    takes milliseconds where building it again took a good part of a second.
    """

    __slots__ = ("_automaton", "keys", "made", "matches", "rows")

    def __init__(self, keys: str, rows: tuple[str, ...]) -> None:
        self.keys = keys  # joined by newlines (folding never leaves one in a key)
        self.rows = rows  # a tuple of strings: the GC does not track it
        self.made: dict[int, Key] = {}  # Keys made so far, by key number
        self._use(CharwiseDoubleArrayAhoCorasick(keys.split("\n")) if keys else None)

    def _use(self, automaton: CharwiseDoubleArrayAhoCorasick | None) -> None:
        self._automaton = automaton
        # ``matches(text)``: ``(start, end, number)`` of every key in ``text``,
        # overlapping, end exclusive (the automaton's own method: no Python frame).
        self.matches: Callable[[str], list[tuple[int, int, int]]] = (
            automaton.find_overlapping if automaton is not None else _no_matches
        )

    def key(self, number: int) -> Key:
        """The Key of key ``number``."""
        key = self.made.get(number)
        if key is None:
            key = self.made[number] = _key(self.rows[number])
        return key

    def __getstate__(self) -> tuple[str, tuple[str, ...], bytes | None]:
        automaton = self._automaton
        return self.keys, self.rows, automaton.serialize() if automaton is not None else None

    def __setstate__(self, state: tuple[str, tuple[str, ...], bytes | None]) -> None:
        self.keys, self.rows, blob = state
        self.made = {}
        # A damaged blob raises ValueError, and the cache is then rebuilt.
        self._use(CharwiseDoubleArrayAhoCorasick.deserialize(blob) if blob is not None else None)


def _no_matches(text: str) -> list[tuple[int, int, int]]:
    return []


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

    def __len__(self) -> int:
        return self.size

    @property
    def keys(self) -> int:
        """How many keys the automata hold (terms, sound keys, pinyin spellings)."""
        return len(self.han.rows) + len(self.sound.rows) + len(self.pinyin.rows)

    def find(self, folded: str) -> list[Hit]:
        """Every term key (no sound or pinyin) in a folded text: ``(key, start, end)``."""
        hits = [(self.han.key(i), start, end) for start, end, i in self.han.matches(folded)]
        for start, end, i in self.sound.matches(folded):
            key = self.sound.key(i)
            if key.mode == DIRECT:
                hits.append((key, start, end))
        return hits

    @classmethod
    def from_files(cls, paths: Iterable[Path], cache_dir: Path | None = None) -> TermIndex:
        """The index of word-list files (category = file stem), cached by content hash."""
        paths = sorted(paths)
        versions = f"{INDEX_VERSION}/{normalize.TABLE_VERSION}/{version('daachorse')}"
        digest = hashlib.sha256(versions.encode())
        contents = []
        for path in paths:
            data = path.read_bytes()
            digest.update(path.stem.encode() + b"\0" + data + b"\0")
            contents.append((path.stem, data.decode("utf-8")))
        cache = None
        if cache_dir is not None:
            cache = cache_dir / f"keywords-{digest.hexdigest()[:24]}.pickle"
            cached = read_cache(cache, TermIndex)
            if cached is not None:
                return cached
        index = cls(
            Term(term, stem)
            for stem, text in contents
            for line in text.splitlines()
            if (term := line.split("#", 1)[0].strip())
        )
        if cache is not None:
            write_cache(cache, index)
        return index

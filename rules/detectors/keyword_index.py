"""The term index behind the keyword detector: one Aho-Corasick walk over a message's sound.

Every term is folded (:func:`rules.text.normalize.fold`) and then *sounded*:
each Chinese character becomes the mark of its toneless pinyin syllable, every
other character stays as it is (:data:`rules.text.normalize.SOUND_LIST`). The
message is folded and sounded the same way, position for position, so one
walk of one automaton over the sounded message finds, for a term such as 赌博:

* the term itself and its homophones (``TERM`` keys: 赌博, 堵博 sound alike;
  which one it is, the folded text at the match says: ``folded[a:b]`` is one
  of the key's ``forms`` for a direct hit, one of its ``ordinary`` words for
  an ordinary word that merely sounds like it, else a homophone);
* its pinyin spelling (``PINYIN`` keys: dubo), Latin letters being their own
  sound;
* every mixture of characters and pinyin syllables (``MIXED`` keys, for terms
  of two to ``MAX_MIXED`` characters: 赌bo, du博, 赌chang), generated here
  rather than searched for.

Terms of one Chinese character (and terms such as 妈妈 that fold to one) are
not sounded: every homophone of one character would match. They sit in a
regular-expression character class searched in the folded text, and most
messages contain none of them.

The automaton is daachorse's character-wise double-array Aho-Corasick
(``CharwiseDoubleArrayAhoCorasick``, Rust): one transition per character,
all overlapping matches several times faster than pyahocorasick, and
serialisable, so the cache loads the built automaton in milliseconds. Each key
is stored as one JSON row and made into a :class:`Key` on its first match, so a
cached start does not build 300k Python objects and the cyclic GC has nothing
to walk.

The homophone guard: a sound match whose folded text is an ordinary word of
jieba's dictionary with that sound (病毒 for 冰毒) is not a hit; a pinyin or
mixed spelling that an ordinary word also spells (duchang: 赌场 or 独唱) is
*ambiguous*, which the detector reports as weak evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import version
from itertools import product
from pathlib import Path
from typing import Any, NamedTuple

from daachorse import CharwiseDoubleArrayAhoCorasick

from rules.core.pickle_cache import read_cache, write_cache
from rules.text import normalize

INDEX_VERSION = 12
TERM, MIXED, PINYIN = 0, 1, 2  # what a key is
ALLOW = "allow"  # the category of allow-listed terms (file ``allow.txt``)
MIN_PINYIN_LETTERS = 4  # a pinyin spelling shorter than this is no key (dama yes, ma no)
MAX_MIXED = 4  # terms of 2..MAX_MIXED characters get every character/pinyin mixture
_LATIN_RUN = re.compile(r"([a-z])\1+")


class Term(NamedTuple):
    """A listed term. ``scope`` is "" for the shipped lists, "*" or a group id for custom words."""

    term: str
    category: str
    scope: str = ""

    @property
    def allow(self) -> bool:
        return self.category == ALLOW


class Form:
    """The listed terms that fold to one text (``folded``), as a direct match reports them.

    A term with a repeated character (妈妈) folds like every repeat (妈); ``runs``
    holds, per term, its fold before runs collapsed when that differs, else "";
    ``single`` are the terms needing no repeat.
    """

    __slots__ = ("folded", "runs", "single", "terms")

    def __init__(self, folded: str, terms: tuple[Term, ...]) -> None:
        self.folded = folded
        self.terms = terms
        pre = [normalize.prefold(t.term) for t in terms]
        self.runs: tuple[str, ...] = ()
        self.single = terms
        if any(len(p) != len(folded) for p in pre):
            self.runs = tuple(p if len(p) != len(folded) else "" for p in pre)
            self.single = tuple(t for t, need in zip(terms, self.runs, strict=True) if not need)


class Key:
    """What one automaton key stands for (made from its stored row on the first match).

    ``left``/``right`` are "a" (a Latin letter) or "0" (a digit) when the key
    begins/ends with one, so the match must begin/end a whole word; "" else.
    For ``TERM`` keys: ``forms`` (folded text -> :class:`Form`), whether a
    non-direct match is a homophone (``sounds``), the ``ordinary`` words with
    the same sound, and ``terms``/``folded``: the blocked terms and their folded
    forms, reported for a homophone. ``MIXED`` and ``PINYIN`` keys point at
    the ``TERM`` keys they spell (``variants``: base key and, per character,
    whether it was spelled); they are ``ambiguous`` when an ordinary word
    spells the same.
    """

    __slots__ = (
        "ambiguous",
        "folded",
        "forms",
        "kind",
        "left",
        "length",
        "ordinary",
        "right",
        "sounds",
        "terms",
        "variants",
    )

    def __init__(self, kind: int, length: int, left: str, right: str) -> None:
        self.kind, self.length, self.left, self.right = kind, length, left, right
        self.forms: dict[str, Form] = {}
        self.sounds = False
        self.ordinary: frozenset[str] = frozenset()
        self.terms: tuple[Term, ...] = ()
        self.folded: tuple[str, ...] = ()
        self.variants: tuple[tuple[Key, tuple[bool, ...]], ...] = ()
        self.ambiguous = False


# A match: (key, start, end) in the searched text, end exclusive.
Hit = tuple[Key, int, int]


def _edge(ch: str) -> str:
    if normalize.is_latin(ch):
        return "a"
    return "0" if ch.isdigit() else ""


def _is_chinese(folded: str) -> bool:
    return all(ord(c) in normalize.SOUND for c in folded)


def _spelled(marks: str, spell: tuple[bool, ...]) -> str:
    """``marks`` with the marks where ``spell`` is true written as their pinyin, Latin runs
    collapsed as a message's are ("" when a syllable has no Latin name)."""
    out = []
    for mark, spelled in zip(marks, spell, strict=True):
        if spelled:
            name = normalize.pinyin_of(mark)
            if not name:
                return ""
            out.append(name)
        else:
            out.append(mark)
    return _LATIN_RUN.sub(r"\1", "".join(out))


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


def _dumps(row: list[object]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


class Automaton:
    """The automaton with the stored rows of its keys and the Keys made from them.

    Pickled with the automaton itself (daachorse serialises it): a cached load
    takes milliseconds where building it again took seconds.
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
            key = self.made[number] = self._make(json.loads(self.rows[number]))
        return key

    def _make(self, row: list[Any]) -> Key:
        kind = row[0]
        if kind == TERM:
            _, length, left, right, sounds, forms, ordinary = row
            key = Key(TERM, length, left, right)
            made = {folded: Form(folded, tuple(Term(*t) for t in terms)) for folded, terms in forms}
            key.forms = made
            key.sounds = bool(sounds)
            key.ordinary = frozenset(ordinary)
            blocked = [(f.folded, t) for f in made.values() for t in f.terms if not t.allow]
            key.terms = tuple(dict.fromkeys(t for _, t in blocked))
            key.folded = tuple(dict.fromkeys(f for f, _ in blocked))
            return key
        if kind == MIXED:
            _, length, left, right, variants = row
            key = Key(MIXED, length, left, right)
            key.variants = tuple(
                (self.key(base), tuple(c == "p" for c in pattern)) for base, pattern in variants
            )
        else:
            _, length, bases = row
            key = Key(PINYIN, length, "a", "a")
            key.variants = tuple((self.key(base), ()) for base in bases)
        key.terms = tuple(dict.fromkeys(t for base, _ in key.variants for t in base.terms))
        key.ambiguous = any(base.ordinary for base, _ in key.variants)
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
    """Every term's keys in one automaton plus the one-character terms (module docstring).

    ``pinyin=False`` builds direct keys only (no homophones, spellings or mixtures).
    """

    def __init__(self, terms: Iterable[Term], pinyin: bool = True) -> None:
        direct: dict[str, list[Term]] = {}
        for term in terms:
            key = normalize.fold(term.term)
            if key:
                direct.setdefault(key, []).append(term)
        single: dict[str, list[Term]] = {}
        by_sound: dict[str, dict[str, list[Term]]] = {}
        for key, listed in direct.items():
            if len(key) == 1 and ord(key) in normalize.SOUND:
                single[key] = listed
            else:
                by_sound.setdefault(normalize.sounded(key), {})[key] = listed

        may_sound = pinyin and any(
            len(skey) >= 2 and not skey.isascii() for skey in by_sound
        )  # the ordinary words' sounds are read only when some key can sound
        ordinary = _sound_index() if may_sound else {}
        keys: list[str] = []
        rows: list[str] = []
        number: dict[str, int] = {}
        sounding: list[tuple[str, int]] = []  # (sound, key number) of keys that sound
        for skey, forms in by_sound.items():
            blocked = any(not t.allow for terms in forms.values() for t in terms)
            sounds = pinyin and blocked and len(skey) >= 2 and all(map(_is_chinese, forms))
            alike = sorted(ordinary.get(skey, frozenset()) - forms.keys()) if sounds else []
            number[skey] = len(keys)
            if sounds:
                sounding.append((skey, len(keys)))
            keys.append(skey)
            stored: list[object] = [[f, [list(t) for t in terms]] for f, terms in forms.items()]
            rows.append(
                _dumps([TERM, len(skey), _edge(skey[0]), _edge(skey[-1]), sounds, stored, alike])
            )

        spelled: dict[str, list[tuple[int, str]]] = {}  # key -> (base number, pattern)
        for skey, base in sounding:
            for spell in _spellings(len(skey)):
                text = _spelled(skey, spell)
                if not text or text in number:
                    continue  # a listed term's own key (a片 is a term and 阿片 mixed)
                if all(spell) and len(text) < MIN_PINYIN_LETTERS:
                    continue
                pattern = "".join("p" if s else "h" for s in spell)
                spelled.setdefault(text, []).append((base, pattern))
        for text, variants in spelled.items():
            keys.append(text)
            if all(pattern.count("p") == len(pattern) for _, pattern in variants):
                rows.append(_dumps([PINYIN, len(text), [base for base, _ in variants]]))
            else:
                mixed = [[base, p] for base, p in variants if "h" in p]
                rows.append(_dumps([MIXED, len(text), _edge(text[0]), _edge(text[-1]), mixed]))
        # An all-pinyin spelling that is also some other term's mixture (xian: 先 or 西M)
        # is kept as the mixture only: rare.

        self.size = len(direct)
        self.terms_sounding = len(sounding)
        self.automaton = Automaton("\n".join(keys), tuple(rows))
        self.single = {ch: _single_key(ch, listed) for ch, listed in single.items()}
        chars = "".join(sorted(single))
        self.single_search, self.single_find = _class_search(chars)
        # The one-character terms that need no repeat of the character: in a message
        # without repeated characters only these can match (妈妈 folds to 妈, and a lone
        # 妈 is no hit), so it is searched for these alone.
        lone = "".join(ch for ch in chars if self.single[ch].forms[ch].single)
        self.lone_search, self.lone_find = _class_search(lone)

    def __len__(self) -> int:
        return self.size

    @property
    def keys(self) -> int:
        """How many keys the automaton holds (terms, mixtures, pinyin spellings)."""
        return len(self.automaton.rows)

    def key_counts(self) -> dict[str, int]:
        """How many keys of each kind (for the bench): term, mixed, pinyin, single."""
        counts = {"term": 0, "mixed": 0, "pinyin": 0, "single": len(self.single)}
        names = ("term", "mixed", "pinyin")
        for row in self.automaton.rows:
            counts[names[int(row[1])]] += 1
        return counts

    def find(self, folded: str) -> list[Hit]:
        """Every term key in a folded text, matched directly (no sound, spelling or
        mixture): ``(key, start, end)``; the key's ``forms`` hold the text matched."""
        hits: list[Hit] = []
        automaton = self.automaton
        for start, end, number in automaton.matches(normalize.sounded(folded)):
            key = automaton.key(number)
            if key.kind == TERM and folded[start:end] in key.forms:
                hits.append((key, start, end))
        if self.single_find is not None:
            for m in self.single_find(folded):
                hits.append((self.single[m.group()], m.start(), m.end()))
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


Search = Callable[[str], "re.Match[str] | None"]
FindIter = Callable[[str], Iterator["re.Match[str]"]]


def _class_search(chars: str) -> tuple[Search | None, FindIter | None]:
    """``search`` and ``finditer`` of a character class of ``chars`` (None for none)."""
    if not chars:
        return None, None
    pattern = re.compile(f"[{re.escape(chars)}]")
    return pattern.search, pattern.finditer


def _single_key(ch: str, listed: list[Term]) -> Key:
    key = Key(TERM, 1, "", "")
    form = Form(ch, tuple(listed))
    key.forms = {ch: form}
    key.terms = tuple(t for t in listed if not t.allow)
    key.folded = (ch,) if key.terms else ()
    return key


def _spellings(length: int) -> Iterator[tuple[bool, ...]]:
    """Per character, spelled in pinyin or not: every mixture of a term of ``length``
    characters (mixtures only up to ``MAX_MIXED``; the all-pinyin spelling always),
    never the all-character one (that is the term's own key)."""
    if length > MAX_MIXED:
        yield (True,) * length
        return
    for spell in product((False, True), repeat=length):
        if any(spell):
            yield spell

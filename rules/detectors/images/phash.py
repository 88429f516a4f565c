"""Perceptual hashes and a blocklist of known bad images matched by Hamming distance.

Two 64-bit hashes per frame, computed with Pillow and numpy only (imagehash would bring
scipy, over 100 MB, for one 32x32 DCT):

- ``phash``: the grey picture at 32x32, its 2-D DCT-II, the top-left 8x8 coefficients
  compared with their median;
- ``dhash``: the grey picture at 9x8, each pixel compared with its right neighbour.

Both are imagehash's algorithms: on pictures whose shorter side is under 256 pixels the
bits are imagehash's own (pinned in the tests); larger frames are first reduced by a
whole factor, which costs a few bits of agreement and saves most of the time (both
hashes of a 1080x1920 frame in ~2 ms, against ~15 ms for imagehash's pHash alone).

A frame matches a blocklist entry when its pHash is within ``threshold`` bits of one of
the entry's hashes and its dHash within ``dhash_threshold`` bits (a guard against
look-alike layouts). An entry holds the hashes of its frames and of centre crops of them
(``crop_variants``), because cropping is what moves a pHash most.

The defaults (8 and 12 bits, crops of 4% and 8%) come from generated pictures (20
photos, 16 chat screenshots, 6 posters, 12 stickers, 10 text images; each also resized
to 50% and 150%, JPEG q40, cropped 5%, brightened 20%, and all of these at once):
every resized, recompressed and cropped copy matches (worst 8 bits); 376 of all 384
copies match, the 8 misses being brightened screenshots (brightening blows their light
grey background out to white: 10 to 12 bits). Of 2,016 unrelated pairs, one pair of
short chat screenshots matches (8 bits) and one pair of text-only pictures; posters made
from one template with other words and another QR payload match each other (4 to 8
bits): a 64-bit hash sees the layout, not the words. A threshold of 10 still misses 4
brightened screenshots and matches 9 unrelated pairs besides the template posters.

Blocklists are small (hundreds to thousands of entries), so a lookup is one vectorised
XOR and popcount over every stored hash: about 30 us for ten thousand frames, with no
tree to keep balanced when officers add and remove pictures.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from rules.images.decode import DecodedImage, DecodeFailure, DecodeLimits, decode_image

DEFAULT_THRESHOLD = 8
DEFAULT_DHASH_THRESHOLD = 12
# A blocklisted picture is also stored cropped by these fractions (half from each side):
# a 5% crop moves pHash by up to 18 bits, the stored crops bring it back under 5.
DEFAULT_CROP_VARIANTS = (0.04, 0.08)
HASH_BITS = 64
_REDUCED_SIDE = 128

# Blocklist files are decoded like any picture, but their animations are sampled more.
BLOCKLIST_DECODE_LIMITS = DecodeLimits(max_side=512, sample_frames=5)


@dataclass(frozen=True, slots=True)
class ImageHashes:
    """The perceptual hashes of one frame, as 64-bit unsigned integers."""

    phash: int
    dhash: int

    def hex(self) -> str:
        return f"{self.phash:016x}:{self.dhash:016x}"

    @classmethod
    def from_hex(cls, text: str) -> ImageHashes:
        phash, _, dhash = text.strip().partition(":")
        return cls(int(phash, 16), int(dhash, 16))

    def distance(self, other: ImageHashes) -> tuple[int, int]:
        return hamming(self.phash, other.phash), hamming(self.dhash, other.dhash)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def _grey(image: Image.Image) -> Image.Image:
    """The frame in grey, first reduced by a whole factor while it stays at least
    ``_REDUCED_SIDE`` pixels on its shorter side, so that the Lanczos resizes to 32x32
    and 9x8 read a small picture; the hashes stay within a few bits of the unreduced
    ones."""
    grey = image if image.mode == "L" else image.convert("L")
    factor = min(grey.size) // _REDUCED_SIDE
    return grey.reduce(factor) if factor > 1 else grey


def _pixels(grey: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(grey.resize(size, Image.Resampling.LANCZOS), dtype=np.float64)


@cache
def _dct_matrix(size: int) -> np.ndarray:
    """Unnormalised DCT-II as a matrix (scipy.fftpack.dct's default, used by imagehash)."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * size))


def _bits(mask: np.ndarray) -> int:
    return int.from_bytes(np.packbits(mask.ravel()).tobytes(), "big")


def phash(image: Image.Image) -> int:
    return _phash_of_grey(_grey(image))


def dhash(image: Image.Image) -> int:
    return _dhash_of_grey(_grey(image))


def image_hashes(image: Image.Image) -> ImageHashes:
    grey = _grey(image)
    return ImageHashes(_phash_of_grey(grey), _dhash_of_grey(grey))


def _phash_of_grey(grey: Image.Image) -> int:
    pixels = _pixels(grey, (32, 32))
    matrix = _dct_matrix(32)
    low = (matrix @ pixels @ matrix.T)[:8, :8]
    return _bits(low > np.median(low))


def _dhash_of_grey(grey: Image.Image) -> int:
    pixels = _pixels(grey, (9, 8))
    return _bits(pixels[:, 1:] > pixels[:, :-1])


def frame_hashes(decoded: DecodedImage) -> tuple[ImageHashes, ...]:
    """Hashes of every sampled frame of a decoded picture."""
    return tuple(image_hashes(frame) for frame in decoded.frames)


# -- blocklist -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """A known bad picture: ``key`` identifies it (the file's SHA-256 unless given)."""

    key: str
    name: str
    category: str
    hashes: tuple[ImageHashes, ...]
    source: str | None = None


@dataclass(frozen=True, slots=True)
class BlocklistMatch:
    entry: BlocklistEntry
    distance: int  # pHash bits
    dhash_distance: int
    frame: int  # index into the queried hashes


@dataclass(frozen=True, slots=True)
class BlocklistLoadFailure:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class BlocklistLoadReport:
    added: tuple[BlocklistEntry, ...]
    failures: tuple[BlocklistLoadFailure, ...]
    unmatched_patterns: tuple[str, ...] = ()


@dataclass
class ImageBlocklist:
    """Known bad pictures, looked up by perceptual hash."""

    threshold: int = DEFAULT_THRESHOLD
    dhash_threshold: int = DEFAULT_DHASH_THRESHOLD
    _entries: dict[str, BlocklistEntry] = field(default_factory=dict, init=False, repr=False)
    _phashes: np.ndarray = field(init=False, repr=False)
    _dhashes: np.ndarray = field(init=False, repr=False)
    _owners: list[str] = field(default_factory=list, init=False, repr=False)
    _dirty: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("threshold", "dhash_threshold"):
            if not 0 <= getattr(self, name) <= HASH_BITS:
                raise ValueError(f"{name} must be between 0 and {HASH_BITS}")
        self._phashes = np.zeros(0, np.uint64)
        self._dhashes = np.zeros(0, np.uint64)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BlocklistEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> BlocklistEntry | None:
        return self._entries.get(key)

    def add(self, entry: BlocklistEntry) -> BlocklistEntry:
        """Add ``entry`` (replacing one with the same key)."""
        if not entry.hashes:
            raise ValueError("a blocklist entry needs at least one hash")
        self._entries[entry.key] = entry
        self._dirty = True
        return entry

    def add_image(
        self,
        name: str,
        category: str,
        picture: DecodedImage | Image.Image,
        *,
        key: str | None = None,
        source: str | None = None,
        crop_variants: Sequence[float] = DEFAULT_CROP_VARIANTS,
    ) -> BlocklistEntry:
        """Add a decoded picture (all its sampled frames) or a single PIL image, with
        centre crops of each frame (``crop_variants``, fractions of width and height)."""
        if isinstance(picture, DecodedImage):
            frames: Sequence[Image.Image] = picture.frames
            key = key or picture.sha256
        else:
            frames = (picture,)
            key = key or hashlib.sha256(picture.tobytes()).hexdigest()
        hashes: list[ImageHashes] = []
        for frame in frames:
            for variant in (frame, *(_centre_crop(frame, f) for f in crop_variants)):
                value = image_hashes(variant)
                if value not in hashes:
                    hashes.append(value)
        return self.add(BlocklistEntry(key, name, category, tuple(hashes), source))

    def remove(self, key: str) -> BlocklistEntry | None:
        """Remove the entry with ``key``; returns it, or None when there was none."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._dirty = True
        return entry

    def remove_matching(self, hashes: Sequence[ImageHashes]) -> tuple[BlocklistEntry, ...]:
        """Remove every entry that ``hashes`` match (an officer replying to a picture)."""
        removed = {match.entry.key: match.entry for match in self.lookup(hashes)}
        for key in removed:
            self.remove(key)
        return tuple(removed.values())

    def lookup(
        self,
        hashes: Sequence[ImageHashes],
        threshold: int | None = None,
        dhash_threshold: int | None = None,
    ) -> list[BlocklistMatch]:
        """Entries within the thresholds of any of ``hashes`` (frames of one picture),
        each once at its best distance, nearest first."""
        if not hashes or not self._entries:
            return []
        self._rebuild()
        limit = self.threshold if threshold is None else threshold
        dlimit = self.dhash_threshold if dhash_threshold is None else dhash_threshold
        best: dict[str, BlocklistMatch] = {}
        for frame, query in enumerate(hashes):
            pdist = np.bitwise_count(self._phashes ^ np.uint64(query.phash))
            ddist = np.bitwise_count(self._dhashes ^ np.uint64(query.dhash))
            for row in np.flatnonzero((pdist <= limit) & (ddist <= dlimit)):
                key = self._owners[row]
                match = BlocklistMatch(self._entries[key], int(pdist[row]), int(ddist[row]), frame)
                held = best.get(key)
                if held is None or (match.distance, match.dhash_distance) < (
                    held.distance,
                    held.dhash_distance,
                ):
                    best[key] = match
        return sorted(best.values(), key=lambda m: (m.distance, m.dhash_distance, m.entry.key))

    def nearest(self, hashes: Sequence[ImageHashes]) -> BlocklistMatch | None:
        """The closest entry whatever the thresholds (for tuning and officers' questions)."""
        matches = self.lookup(hashes, HASH_BITS, HASH_BITS)
        return matches[0] if matches else None

    def _rebuild(self) -> None:
        if not self._dirty:
            return
        owners: list[str] = []
        phashes: list[int] = []
        dhashes: list[int] = []
        for entry in self._entries.values():
            for hashes in entry.hashes:
                owners.append(entry.key)
                phashes.append(hashes.phash)
                dhashes.append(hashes.dhash)
        self._owners = owners
        self._phashes = np.array(phashes, dtype=np.uint64)
        self._dhashes = np.array(dhashes, dtype=np.uint64)
        self._dirty = False

    def load_files(
        self,
        patterns: Iterable[str | Path],
        category: str,
        *,
        base_dir: Path | None = None,
        limits: DecodeLimits = BLOCKLIST_DECODE_LIMITS,
    ) -> BlocklistLoadReport:
        """Add the pictures named by ``patterns`` (paths or globs, relative ones under
        ``base_dir``); each is named by its file name. Unreadable files are reported,
        never raised."""
        added: list[BlocklistEntry] = []
        failures: list[BlocklistLoadFailure] = []
        unmatched: list[str] = []
        for pattern in patterns:
            paths = _expand(pattern, base_dir)
            if not paths:
                unmatched.append(str(pattern))
            for path in paths:
                try:
                    data = path.read_bytes()
                except OSError as error:
                    failures.append(BlocklistLoadFailure(str(path), f"unreadable: {error}"))
                    continue
                decoded = decode_image(data, limits)
                if isinstance(decoded, DecodeFailure):
                    failures.append(BlocklistLoadFailure(str(path), decoded.detail))
                    continue
                added.append(self.add_image(path.name, category, decoded, source=str(path)))
        return BlocklistLoadReport(tuple(added), tuple(failures), tuple(unmatched))


def _centre_crop(image: Image.Image, fraction: float) -> Image.Image:
    if not 0 < fraction < 0.5:
        raise ValueError(f"a crop variant must be between 0 and 0.5, not {fraction}")
    width, height = image.size
    dx, dy = round(width * fraction / 2), round(height * fraction / 2)
    return image.crop((dx, dy, width - dx, height - dy))


def _expand(pattern: str | Path, base_dir: Path | None) -> list[Path]:
    path = Path(pattern).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    text = str(path)
    if glob.has_magic(text):
        return sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path] if path.exists() else []

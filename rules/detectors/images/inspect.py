"""One picture's bytes -> what it holds (:class:`~rules.core.model.ImageReport`).

The work of the image stage's pool: decode safely, then read QR codes and
barcodes, hash every sampled frame for the blocklist, read the text (OCR, first
frame), optionally score it for nudity, and keep a small thumbnail as evidence.
A plain function of bytes and options, so it runs in a worker process (the
stage's default: a hostile picture that crashes a decoder takes a worker down,
not the bot, and the event loop never competes with it for the GIL). Never
raises: whatever goes wrong is the report's ``problem``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rules.core.model import ImageReport
from rules.detectors.images import nsfw
from rules.detectors.images.ocr import OcrEngine, OcrFailure, OcrSettings
from rules.detectors.images.phash import frame_hashes
from rules.detectors.images.qr import read_codes
from rules.images.decode import DecodedImage, DecodeFailure, DecodeLimits, decode_image
from rules.images.thumbnail import make_thumbnail

log = logging.getLogger(__name__)

MAX_CODES = 8  # payloads kept per picture
MAX_CODE_TEXT = 1000  # characters kept per payload


@dataclass(frozen=True, slots=True)
class InspectOptions:
    """Which checks run on a picture, and their limits (from ``[images]``)."""

    decode: DecodeLimits = field(default_factory=DecodeLimits)
    codes: bool = True
    hashes: bool = True
    text: bool = True
    nsfw: bool = False
    thumbnail_bytes: int = 65536
    ocr: OcrSettings = field(default_factory=OcrSettings)


# One OCR engine (and NSFW classifier) per worker process, loaded on first use.
_ocr_engines: dict[OcrSettings, OcrEngine] = {}


def _ocr(settings: OcrSettings) -> OcrEngine:
    engine = _ocr_engines.get(settings)
    if engine is None:
        engine = _ocr_engines[settings] = OcrEngine(settings)
    return engine


def inspect_picture(data: bytes, index: int, key: str, options: InspectOptions) -> ImageReport:
    """What the picture in ``data`` holds; a report with ``checked=False`` if it cannot tell."""
    try:
        decoded = decode_image(data, options.decode)
        if isinstance(decoded, DecodeFailure):
            return ImageReport(
                index, key, checked=False, problem=decoded.detail, sha256=decoded.sha256
            )
        return _inspect(decoded, index, key, options)
    except Exception as error:  # a verdict on hostile input, never a crash of the pool
        log.warning("picture %s not inspected: %s", key[:64], error, exc_info=True)
        return ImageReport(index, key, checked=False, problem=f"{type(error).__name__}: {error}")


def _inspect(decoded: DecodedImage, index: int, key: str, options: InspectOptions) -> ImageReport:
    codes: tuple[str, ...] = ()
    if options.codes:
        codes = tuple(code.text[:MAX_CODE_TEXT] for code in read_codes(decoded)[:MAX_CODES])
    hashes: tuple[tuple[int, int], ...] = ()
    if options.hashes:
        hashes = tuple((h.phash, h.dhash) for h in frame_hashes(decoded))
    text, problem = "", ""
    if options.text:
        read = _ocr(options.ocr).read(decoded.first)
        if isinstance(read, OcrFailure):
            problem = f"text not read: {read.reason}"
        else:
            text = read.text
    nsfw = _nsfw_score(decoded) if options.nsfw else None
    thumbnail = make_thumbnail(decoded.first, max_bytes=options.thumbnail_bytes).data
    return ImageReport(
        index,
        key,
        checked=True,
        problem=problem,
        sha256=decoded.sha256,
        text=text,
        codes=codes,
        hashes=hashes,
        nsfw=nsfw,
        thumbnail=thumbnail,
        width=decoded.width,
        height=decoded.height,
    )


def _nsfw_score(decoded: DecodedImage) -> float | None:
    """The optional classifier's score, or None when it is not installed."""
    return nsfw.score(decoded.first)

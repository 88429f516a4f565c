"""Read every QR code (and, where configured, other barcodes) in the frames of a picture.

zxing-cpp does the reading: a self-contained wheel, no system library. By default it
looks for the QR family only (QR, Micro QR, rMQR): that is what spam posters, WeChat
group and contact cards and payment codes use, and it is fast. Searching for every
format costs ten to twenty times more on a photo (159 ms against 8 ms for a 1920x1080
photo on one core), because noise looks like linear barcodes; add formats by name in
``QrScanSettings.formats`` where a group needs them.

One pass with zxing's own rotation, inversion and downscaling is enough: on fourteen
hard variants of a poster (resized to 20%, JPEG q15, blurred, contrast cut to 12%,
rotated 30 and 90 degrees, inverted, noisy, a 2-pixel-module code in a 2048-pixel
photo) a second pass with another binariser, half or double size or autocontrast
found nothing the first had missed, so there is none.

The payload texts are what matters to moderation: they go through the link, keyword
and PII detectors like message text (done by the lead's detector, not here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import zxingcpp
from PIL import Image

from rules.images.decode import DecodedImage

DEFAULT_FORMATS = ("QRCode", "MicroQRCode", "RMQRCode")

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class QrScanSettings:
    """What to look for: zxing-cpp format names (``BarcodeFormat`` members, such as
    ``QRCode``, ``DataMatrix``, ``Aztec``, ``PDF417``, ``EAN13``; ``All`` for every one)."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    try_rotate: bool = True
    try_invert: bool = True
    try_downscale: bool = True

    def __post_init__(self) -> None:
        if not self.formats:
            raise ValueError("QrScanSettings.formats needs at least one format")
        _zxing_formats(self.formats)  # raises ValueError on an unknown name


@dataclass(frozen=True, slots=True)
class DecodedCode:
    """One code found in a picture.

    ``text`` is the payload as text (zxing's human-readable rendering for binary or GS1
    content); ``raw`` its bytes. ``corners`` are the top-left, top-right, bottom-right
    and bottom-left corners in the pixels of the analysed frame ``frame`` (multiply by
    ``1 / DecodedImage.scale`` for the original picture's pixels).
    """

    text: str
    raw: bytes
    format: str
    content_type: str
    frame: int
    corners: tuple[Point, Point, Point, Point]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Left, top, right and bottom of the corners."""
        xs = [x for x, _ in self.corners]
        ys = [y for _, y in self.corners]
        return min(xs), min(ys), max(xs), max(ys)


def read_codes(
    picture: DecodedImage | Sequence[Image.Image] | Image.Image,
    settings: QrScanSettings | None = None,
) -> tuple[DecodedCode, ...]:
    """Every code in every frame, in frame order; a payload seen in several frames (an
    animation that holds still) is reported once, from the first frame showing it."""
    settings = settings or QrScanSettings()
    if isinstance(picture, DecodedImage):
        frames: Sequence[Image.Image] = picture.frames
    elif isinstance(picture, Image.Image):
        frames = (picture,)
    else:
        frames = picture
    formats = _zxing_formats(settings.formats)
    seen: set[tuple[str, bytes]] = set()
    found: list[DecodedCode] = []
    for index, frame in enumerate(frames):
        for code in zxingcpp.read_barcodes(
            _luminance(frame),
            formats=formats,
            try_rotate=settings.try_rotate,
            try_invert=settings.try_invert,
            try_downscale=settings.try_downscale,
        ):
            name = code.format.name
            raw = bytes(code.bytes)
            if (name, raw) in seen:
                continue
            seen.add((name, raw))
            position = code.position
            corners = tuple(
                (int(point.x), int(point.y))
                for point in (
                    position.top_left,
                    position.top_right,
                    position.bottom_right,
                    position.bottom_left,
                )
            )
            found.append(
                DecodedCode(
                    text=code.text,
                    raw=raw,
                    format=name,
                    content_type=code.content_type.name,
                    frame=index,
                    corners=(corners[0], corners[1], corners[2], corners[3]),
                )
            )
    return tuple(found)


def _luminance(frame: Image.Image) -> np.ndarray:
    grey = frame if frame.mode == "L" else frame.convert("L")
    return np.asarray(grey)


def _zxing_formats(names: Sequence[str]) -> zxingcpp.BarcodeFormats:
    formats = []
    for name in names:
        member = zxingcpp.BarcodeFormat.__members__.get(name)
        if member is None:
            raise ValueError(f"unknown barcode format {name!r}")
        formats.append(member)
    return zxingcpp.BarcodeFormats(formats)

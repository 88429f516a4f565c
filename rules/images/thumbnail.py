"""Small JPEG or WebP thumbnails kept with a case as evidence (QQ image links expire).

The thumbnail must fit a byte cap (config, 64 KB by default) so that it can be stored
with the case and sent to officers as a base64 image. It starts at ``max_side`` and a
good quality, then lowers the quality, then the size, until the bytes fit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image

ThumbnailFormat = Literal["jpeg", "webp"]

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_SIDE = 512
MIN_MAX_BYTES = 2048  # below this even a 16-pixel JPEG may not fit
_QUALITIES = (85, 70, 55, 40)
_SHRINK = 0.7
_MIN_SIDE = 16


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    format: ThumbnailFormat
    width: int
    height: int
    quality: int

    @property
    def mime_type(self) -> str:
        return f"image/{self.format}"


def make_thumbnail(
    image: Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_side: int = DEFAULT_MAX_SIDE,
    fmt: ThumbnailFormat = "jpeg",
) -> Thumbnail:
    """A thumbnail of ``image`` no larger than ``max_bytes``, its longer side at most
    ``max_side`` (never enlarged). Alpha is composited on white."""
    if max_bytes < MIN_MAX_BYTES:
        raise ValueError(f"a thumbnail needs at least {MIN_MAX_BYTES} bytes, not {max_bytes}")
    if max_side < _MIN_SIDE:
        raise ValueError(f"a thumbnail side must be at least {_MIN_SIDE} pixels")
    base = _fit(_rgb(image), max_side)  # later, smaller attempts start from this one
    side = max(base.size)
    while True:
        scaled = _fit(base, side)
        for quality in _QUALITIES:
            data = _encode(scaled, fmt, quality)
            if len(data) <= max_bytes:
                return Thumbnail(data, fmt, scaled.width, scaled.height, quality)
        if side <= _MIN_SIDE:
            # Unreachable for MIN_MAX_BYTES and up; kept so that the loop always ends.
            raise ValueError(f"no {fmt} thumbnail fits in {max_bytes} bytes")
        side = max(_MIN_SIDE, int(side * _SHRINK))


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _fit(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    scale = min(1.0, side / max(width, height))
    if scale == 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _encode(image: Image.Image, fmt: ThumbnailFormat, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=quality, optimize=True)
    else:
        image.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()

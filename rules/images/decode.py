"""Decode untrusted image bytes into a few RGB frames ready for analysis, safely.

Images come from strangers, so decoding is defensive:

- the content is sniffed by its magic bytes: a ZIP, an HTML error page or a PDF named
  ``.png`` is refused with its kind as the reason, and only formats on the allow list
  (JPEG, PNG, GIF, WebP, BMP, and AVIF where Pillow has it) reach a decoder;
- the declared size is checked against ``max_pixels`` from the header, before any pixel
  is decoded (a 30,000 x 30,000 PNG of a few KB is refused at once); the global
  ``PIL.Image.MAX_IMAGE_PIXELS`` is left alone, and it still stops anything above
  Pillow's own limit should ``max_pixels`` be set higher;
- large pictures are scaled so that their longer side is at most ``max_side`` (JPEG is
  decoded at a reduced DCT scale where it can be, which saves time and memory);
- the EXIF orientation is applied, so detectors see the picture the way people do;
- animations (GIF, WebP, APNG, AVIF) are sampled: first, middle and last frame. Frames
  are reached by decoding every frame before them, so the walk is capped by a frame
  count and a pixel budget, and a GIF's frames are counted by a bounded block walk
  rather than by Pillow's full pass: a GIF of 100,000 frames costs milliseconds;
- palette and alpha images are composited on white; 16-bit and float images scaled;
- every failure is a :class:`DecodeFailure` with a reason; no exception escapes.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image, features

# -- results ---------------------------------------------------------------------------------


class DecodeFailureReason(StrEnum):
    EMPTY = "empty"
    TOO_MANY_BYTES = "too_many_bytes"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on the work and memory one image may cost.

    ``max_pixels`` bounds the declared canvas (width x height) of any format;
    ``max_side`` is the longest side of the frames handed to detectors;
    ``sample_frames`` frames are taken evenly from an animation (first and last included);
    ``max_frames_walked`` and ``animation_pixel_budget`` bound the frames decoded to reach
    them (frames past the bound are not looked at: the result says so).
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_side: int = 2048
    sample_frames: int = 3
    max_frames_walked: int = 300
    animation_pixel_budget: int = 6_000_000

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_pixels",
            "max_side",
            "sample_frames",
            "max_frames_walked",
            "animation_pixel_budget",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"DecodeLimits.{name} must be at least 1")


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded picture: RGB frames (longer side at most ``max_side``), upright.

    ``width``/``height`` are the original upright dimensions; ``frame_indices`` says
    which frames of the file ``frames`` are; ``frame_count`` is the number of frames
    seen (a lower bound when ``frames_truncated``: the animation went on past what the
    limits let the decoder walk). ``md5`` is there because QQ names files by it.
    """

    frames: tuple[Image.Image, ...]
    frame_indices: tuple[int, ...]
    format: str
    width: int
    height: int
    animated: bool
    frame_count: int
    frames_truncated: bool
    scale: float
    byte_size: int
    sha256: str
    md5: str

    @property
    def first(self) -> Image.Image:
        return self.frames[0]


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why bytes could not be decoded; ``kind`` is what sniffing took them for."""

    reason: DecodeFailureReason
    detail: str
    kind: str
    byte_size: int
    sha256: str
    md5: str


DecodeResult = DecodedImage | DecodeFailure


# -- sniffing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the first bytes of a file say it is."""

    kind: str
    is_image: bool
    supported: bool

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self.kind, self.kind)


SNIFF_BYTES = 512

_DESCRIPTIONS = {
    "zip": "ZIP archive",
    "gzip": "gzip archive",
    "rar": "RAR archive",
    "7z": "7-Zip archive",
    "pdf": "PDF document",
    "html": "HTML page",
    "xml": "XML document",
    "json": "JSON document",
    "text": "plain text",
    "elf": "ELF executable",
    "exe": "Windows executable",
    "video": "video (ISO media)",
    "svg": "SVG image",
    "heic": "HEIC image",
    "tiff": "TIFF image",
    "ico": "ICO icon",
    "unknown": "unrecognised data",
}

# Pillow format names opened for each supported kind (MPO is JPEG with extra pictures).
_PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "bmp": ("BMP",),
}
if features.check("avif"):
    _PILLOW_FORMATS["avif"] = ("AVIF",)

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff(head: bytes) -> Sniffed:
    """Classify data by its first bytes (:data:`SNIFF_BYTES` are enough)."""
    kind = _sniff_kind(head)
    image = kind in _PILLOW_FORMATS or kind in ("avif", "heic", "tiff", "ico", "svg")
    return Sniffed(kind=kind, is_image=image, supported=kind in _PILLOW_FORMATS)


def _sniff_kind(head: bytes) -> str:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIC_BRANDS:
            return "heic"
        return "video"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head[:2] == b"MZ":
        return "exe"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "html"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "svg"
    if text.startswith(b"<?xml"):
        return "xml"
    if b"<html" in text:
        return "html"
    if text[:1] in (b"{", b"["):
        return "json"
    if text and all(byte >= 0x20 or byte in (0x09, 0x0A, 0x0D) for byte in text[:64]):
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # not merely a character cut at the end
                return "unknown"
        return "text"
    return "unknown"


# -- decoding --------------------------------------------------------------------------------


def decode_image(data: bytes, limits: DecodeLimits | None = None) -> DecodeResult:
    """Decode ``data`` into upright RGB frames within ``limits``; never raises."""
    limits = limits or DecodeLimits()
    sha256, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()

    def failure(reason: DecodeFailureReason, detail: str, kind: str = "unknown") -> DecodeFailure:
        return DecodeFailure(reason, detail, kind, len(data), sha256, md5)

    if not data:
        return failure(DecodeFailureReason.EMPTY, "no bytes")
    if len(data) > limits.max_bytes:
        return failure(
            DecodeFailureReason.TOO_MANY_BYTES,
            f"{len(data)} bytes, over the limit of {limits.max_bytes}",
        )
    sniffed = sniff(data[:SNIFF_BYTES])
    if not sniffed.is_image:
        return failure(
            DecodeFailureReason.NOT_AN_IMAGE, f"not an image: {sniffed.description}", sniffed.kind
        )
    if not sniffed.supported:
        return failure(
            DecodeFailureReason.UNSUPPORTED_FORMAT,
            f"unsupported image format: {sniffed.description}",
            sniffed.kind,
        )
    try:
        return _decode(data, sniffed.kind, limits, sha256, md5)
    except _Refused as refused:
        return failure(refused.reason, refused.detail, sniffed.kind)
    except Image.DecompressionBombError as error:
        return failure(DecodeFailureReason.TOO_MANY_PIXELS, str(error), sniffed.kind)
    except MemoryError:
        return failure(DecodeFailureReason.TOO_MANY_PIXELS, "out of memory", sniffed.kind)
    except Exception as error:  # any decoder error on hostile bytes is a verdict, not a crash
        message = f"{type(error).__name__}: {error}"
        truncated = isinstance(error, EOFError) or "truncated" in str(error).lower()
        reason = DecodeFailureReason.TRUNCATED if truncated else DecodeFailureReason.CORRUPT
        return failure(reason, message, sniffed.kind)


class _Refused(Exception):
    def __init__(self, reason: DecodeFailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _decode(data: bytes, kind: str, limits: DecodeLimits, sha256: str, md5: str) -> DecodedImage:
    declared = header_size(data, kind)
    if declared is not None:
        _check_pixels(*declared, limits)
    image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[kind])
    width, height = image.size
    _check_pixels(width, height, limits)
    orientation = _orientation(image)
    target = scaled_size(width, height, limits.max_side)
    scale = target[0] / width

    animated = kind != "jpeg" and bool(getattr(image, "is_animated", False))
    if not animated:
        if kind == "jpeg" and scale < 1.0:
            image.draft("RGB" if image.mode == "YCbCr" else image.mode, target)
        image.load()
        frame = _prepare(image, target, orientation)
        return DecodedImage(
            frames=(frame,),
            frame_indices=(0,),
            format=kind,
            width=_upright(width, height, orientation)[0],
            height=_upright(width, height, orientation)[1],
            animated=False,
            frame_count=1,
            frames_truncated=False,
            scale=scale,
            byte_size=len(data),
            sha256=sha256,
            md5=md5,
        )

    reachable = min(
        limits.max_frames_walked, max(1, limits.animation_pixel_budget // (width * height))
    )
    if kind == "gif":
        counted = count_gif_frames(data, stop_after=reachable + 1)
    else:
        counted = int(getattr(image, "n_frames", 1))
    walk = max(1, min(counted, reachable))
    wanted = _evenly_spaced(walk, limits.sample_frames)
    frames: list[Image.Image] = []
    indices: list[int] = []
    for index in wanted:
        try:
            image.seek(index)
            image.load()
        except EOFError:
            break  # fewer frames than declared: keep what was read
        except Exception:
            if not frames:
                raise
            break
        frames.append(_prepare(image, target, orientation))
        indices.append(index)
    if not frames:
        raise _Refused(DecodeFailureReason.CORRUPT, "no frame could be decoded")
    upright_w, upright_h = _upright(width, height, orientation)
    return DecodedImage(
        frames=tuple(frames),
        frame_indices=tuple(indices),
        format=kind,
        width=upright_w,
        height=upright_h,
        animated=True,
        frame_count=counted if counted <= reachable else reachable,
        frames_truncated=counted > reachable or len(indices) < len(wanted),
        scale=scale,
        byte_size=len(data),
        sha256=sha256,
        md5=md5,
    )


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height as a PNG, GIF or JPEG header declares them (read before Pillow
    opens the file, so that a bomb is refused by our limit rather than by Pillow's
    warning or error)."""
    if kind == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if kind == "gif" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if kind == "jpeg":
        return _jpeg_frame_size(data)
    return None


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's first start-of-frame segment, if it is reached
    within the first 64 KB of segments."""
    position = 2
    limit = min(len(data), 65536)
    while position + 9 <= limit:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_SOF:
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            width = int.from_bytes(data[position + 7 : position + 9], "big")
            return width, height
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return None


def _check_pixels(width: int, height: int, limits: DecodeLimits) -> None:
    if width < 1 or height < 1:
        raise _Refused(DecodeFailureReason.CORRUPT, f"empty canvas {width}x{height}")
    if width * height > limits.max_pixels:
        raise _Refused(
            DecodeFailureReason.TOO_MANY_PIXELS,
            f"{width}x{height} is {width * height} pixels, over the limit of {limits.max_pixels}",
        )


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` picture scaled so that its longer side is at
    most ``max_side`` (never enlarged)."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5))


def _evenly_spaced(count: int, samples: int) -> list[int]:
    if samples == 1 or count == 1:
        return [0]
    step = (count - 1) / (samples - 1)
    return sorted({round(step * position) for position in range(samples)})


# -- frames ----------------------------------------------------------------------------------

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block only loses the orientation
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE else 1


def _upright(width: int, height: int, orientation: int) -> tuple[int, int]:
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _prepare(frame: Image.Image, target: tuple[int, int], orientation: int) -> Image.Image:
    """An RGB copy of ``frame`` at ``target`` size (alpha composited on white), upright.
    Always a new image: seeking an animation changes ``frame`` in place."""
    source = frame
    frame = _normalise_mode(frame)
    if frame.size != target:
        # After a JPEG draft the frame may already be near the target; resize the rest.
        frame = frame.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
    if frame.mode == "RGBA":
        background = Image.new("RGB", frame.size, (255, 255, 255))
        background.paste(frame, mask=frame.getchannel("A"))
        frame = background
    elif frame.mode != "RGB":
        frame = frame.convert("RGB")
    if orientation in _ORIENTATION_TRANSPOSE:
        frame = frame.transpose(_ORIENTATION_TRANSPOSE[orientation])
    return frame.copy() if frame is source else frame


def _normalise_mode(frame: Image.Image) -> Image.Image:
    """RGB, RGBA or L: the modes that resize and composite well."""
    mode = frame.mode
    if mode in ("RGB", "RGBA", "L"):
        return frame if mode != "RGB" or "transparency" not in frame.info else frame.convert("RGBA")
    if mode.startswith("I") or mode == "F":
        return _grey_from_wide(frame)
    if mode in ("PA", "LA", "La", "RGBa") or "transparency" in frame.info:
        return frame.convert("RGBA")
    if mode == "1":
        return frame.convert("L")  # a byte a pixel until the frame is scaled down
    return frame.convert("RGB")


def _grey_from_wide(frame: Image.Image) -> Image.Image:
    """An 8-bit grey image from a 16-bit, 32-bit or float one: 16-bit data keeps its
    scale; anything else out of 0..255 is stretched from its minimum to its maximum."""
    pixels = np.asarray(frame, dtype=np.float32)
    low = float(pixels.min()) if pixels.size else 0.0
    high = float(pixels.max()) if pixels.size else 0.0
    if frame.mode.startswith("I;16") or (low >= 0 and 255 < high <= 65535):
        low, span = 0.0, 65535.0
    elif low >= 0 and high <= 255:
        low, span = 0.0, 255.0
    else:
        span = max(high - low, 1.0)
    grey = np.clip((pixels - low) * (255.0 / span), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L")


# -- GIF frame count -------------------------------------------------------------------------


def count_gif_frames(data: bytes, stop_after: int) -> int:
    """Frames in a GIF, counted by walking its blocks (no pixel is decoded), stopping
    after ``stop_after`` frames; a damaged file counts the frames before the damage."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return 0
    position = 13
    flags = data[10]
    if flags & 0x80:
        position += 3 * (2 ** ((flags & 0x07) + 1))
    frames = 0
    size = len(data)
    while position < size and frames < stop_after:
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension: label, then sub-blocks
            position = _skip_sub_blocks(data, position + 2)
        elif introducer == 0x2C:  # image descriptor, local table, LZW code size, sub-blocks
            if position + 10 > size:
                break
            local = data[position + 9]
            position += 10
            if local & 0x80:
                position += 3 * (2 ** ((local & 0x07) + 1))
            position = _skip_sub_blocks(data, position + 1)
            if position > size:
                break
            frames += 1
        else:
            break
    return frames


def _skip_sub_blocks(data: bytes, position: int) -> int:
    size = len(data)
    while position < size:
        length = data[position]
        position += 1 + length
        if length == 0:
            return position
    return size + 1

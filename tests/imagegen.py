"""Test images made in memory: CJK text, QR posters, phone screenshots, photos, stickers.

Everything here is generated (nothing downloaded, nothing shipped), deterministic for
a given seed, and returned as a PIL image or as encoded bytes (PNG, JPEG, WebP, GIF).
The hostile files at the end (bomb headers, thousands of GIF frames, disguised
archives) are built byte by byte so that making them costs nothing.

Text needs a CJK font: Debian's ``fonts-wqy-zenhei`` or ``fonts-noto-cjk`` (the test
set-up installs one). Tests that render Chinese call :func:`cjk_font`, which skips the
test with the reason when no CJK font is installed.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import segno
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)

RGB = tuple[int, int, int]

CHAT_LINES = (
    "今天下午三点开会，请大家准时参加",
    "收到，谢谢提醒",
    "报表我晚点发到群里",
    "加微信领取福利，日赚500元",
    "周五之前把材料交给行政",
    "好的，没问题",
)


# -- fonts -----------------------------------------------------------------------------------


@cache
def find_cjk_font() -> Path | None:
    """The first installed CJK font file, or None."""
    for candidate in CJK_FONT_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


@cache
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """A CJK TrueType font at ``size`` pixels; skips the calling test when none is installed."""
    path = find_cjk_font()
    if path is None:
        pytest.skip(
            "no CJK font installed (install Debian fonts-wqy-zenhei or fonts-noto-cjk); "
            f"looked for {', '.join(CJK_FONT_CANDIDATES)}"
        )
    return ImageFont.truetype(str(path), size)


# -- encoding --------------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int = 90, *, orientation: int | None = None) -> bytes:
    """JPEG bytes; with ``orientation`` the pixels are stored turned so that a viewer
    applying the EXIF Orientation tag shows ``image`` upright."""
    stored = image.convert("RGB")
    kwargs: dict[str, object] = {}
    if orientation is not None and orientation != 1:
        stored = stored.transpose(_INVERSE_ORIENTATION[orientation])
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=quality, **kwargs)
    return buffer.getvalue()


def webp(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str) -> bytes:
    """Bytes of ``image`` in ``fmt``: png, jpeg, webp, gif or bmp."""
    fmt = fmt.lower()
    if fmt == "png":
        return png(image)
    if fmt in ("jpeg", "jpg"):
        return jpeg(image)
    if fmt == "webp":
        return webp(image)
    buffer = io.BytesIO()
    if fmt == "gif":
        image.convert("RGB").quantize(256).save(buffer, "GIF")
    elif fmt == "bmp":
        image.convert("RGB").save(buffer, "BMP")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buffer.getvalue()


def animated(frames: Sequence[Image.Image], fmt: str = "gif", duration_ms: int = 100) -> bytes:
    """An animated GIF or WebP of ``frames`` (looping)."""
    buffer = io.BytesIO()
    first, *rest = frames
    if fmt == "gif":
        paletted = [frame.convert("RGB").quantize(64) for frame in frames]
        paletted[0].save(
            buffer,
            "GIF",
            save_all=True,
            append_images=paletted[1:],
            duration=duration_ms,
            loop=0,
            optimize=False,
        )
    elif fmt == "webp":
        first.save(
            buffer,
            "WEBP",
            save_all=True,
            append_images=list(rest),
            duration=duration_ms,
            loop=0,
            quality=70,
        )
    else:
        raise ValueError(f"unknown animated format {fmt!r}")
    return buffer.getvalue()


# Pillow's exif_transpose applies these; their inverses store an image turned on disk.
_INVERSE_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# -- pictures --------------------------------------------------------------------------------


def text_image(
    lines: Sequence[str],
    *,
    width: int = 800,
    font_size: int = 48,
    foreground: RGB = (20, 20, 20),
    background: RGB = (255, 255, 255),
    margin: int = 40,
) -> Image.Image:
    """Lines of (Chinese) text, black on white, the height fitted to the lines."""
    font = cjk_font(font_size)
    line_height = int(font_size * 1.5)
    height = 2 * margin + line_height * max(1, len(lines))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((margin, margin + row * line_height), line, font=font, fill=foreground)
    return image


def qr_image(payload: str, *, scale: int = 8, border: int = 4, error: str = "m") -> Image.Image:
    """A QR code for ``payload`` (segno), black on white, ``scale`` pixels per module."""
    code = segno.make_qr(payload, error=error)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=border)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def poster(
    title: str = "限时福利 扫码进群",
    lines: Sequence[str] = ("每天免费领红包", "名额有限 先到先得"),
    *,
    qr_payload: str | None = "https://weixin.qq.com/g/AbCdEf123456",
    size: tuple[int, int] = (1080, 1527),
    seed: int = 1,
) -> Image.Image:
    """An advertising poster: a coloured gradient, a big title, lines of text, a QR code."""
    width, height = size
    rng = random.Random(seed)
    top: RGB = (rng.randrange(150, 255), rng.randrange(0, 90), rng.randrange(0, 90))
    bottom: RGB = (rng.randrange(150, 255), rng.randrange(120, 220), rng.randrange(0, 80))
    image = _vertical_gradient(size, top, bottom)
    draw = ImageDraw.Draw(image)
    title_font = cjk_font(max(24, width // 12))
    draw.text((width // 2, height // 10), title, font=title_font, fill="white", anchor="mt")
    body_font = cjk_font(max(16, width // 22))
    for row, line in enumerate(lines):
        y = height // 4 + row * int(width / 22 * 1.8)
        draw.text((width // 2, y), line, font=body_font, fill=(255, 250, 210), anchor="mt")
    if qr_payload is not None:
        side = width * 2 // 5
        code = qr_image(qr_payload, scale=10).resize((side, side), Image.Resampling.NEAREST)
        left, top_y = (width - side) // 2, height - side - height // 8
        draw.rectangle((left - 16, top_y - 16, left + side + 16, top_y + side + 16), fill="white")
        image.paste(code, (left, top_y))
        draw.text(
            (width // 2, top_y + side + 40),
            "长按识别二维码",
            font=body_font,
            fill="white",
            anchor="mt",
        )
    return image


def phone_screenshot(
    lines: Sequence[str] = CHAT_LINES,
    *,
    group_name: str = "项目工作群(28)",
    size: tuple[int, int] = (1080, 1920),
    seed: int = 1,
) -> Image.Image:
    """A chat app screenshot: status bar, title bar, alternating chat bubbles with avatars."""
    width, height = size
    rng = random.Random(seed)
    image = Image.new("RGB", size, (237, 237, 237))
    draw = ImageDraw.Draw(image)
    small, body = cjk_font(max(12, width // 30)), cjk_font(max(14, width // 24))
    draw.rectangle((0, 0, width, 80), fill=(237, 237, 237))
    draw.text((40, 20), "9:41", font=small, fill="black")
    draw.text((width - 200, 20), "5G 87%", font=small, fill="black")
    draw.rectangle((0, 80, width, 220), fill=(247, 247, 247))
    draw.text((width // 2, 150), group_name, font=body, fill="black", anchor="mm")
    y = 260
    for index, line in enumerate(lines):
        mine = index % 2 == 1
        avatar: RGB = (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220))
        box = body.getbbox(line)
        bubble_w, bubble_h = box[2] - box[0] + 60, box[3] - box[1] + 60
        if y + bubble_h + 60 > height - 160:
            break
        if mine:
            draw.rectangle((width - 140, y, width - 40, y + 100), fill=avatar)
            right = width - 170
            draw.rounded_rectangle((right - bubble_w, y, right, y + bubble_h), 16, (149, 236, 105))
            draw.text((right - bubble_w + 30, y + 30 - box[1]), line, font=body, fill="black")
        else:
            draw.rectangle((40, y, 140, y + 100), fill=avatar)
            draw.text((170, y - 6), f"同事{index + 1}", font=small, fill=(120, 120, 120))
            top_y = y + 40
            draw.rounded_rectangle((170, top_y, 170 + bubble_w, top_y + bubble_h), 16, "white")
            draw.text((200, top_y + 30 - box[1]), line, font=body, fill="black")
            bubble_h += 40
        y += int(max(bubble_h, 100)) + 50
    draw.rectangle((0, height - 140, width, height), fill=(247, 247, 247))
    draw.rounded_rectangle((120, height - 115, width - 240, height - 35), 12, "white")
    return image


def photo(seed: int = 1, size: tuple[int, int] = (1080, 1080), noise: float = 6.0) -> Image.Image:
    """A textless "photo": smooth random colour fields, soft shapes and sensor noise
    (``noise`` is its standard deviation; 0 makes big pictures quick to make)."""
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    image = Image.fromarray(coarse, "RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(width // 12, width // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    if not noise:
        return image
    grain = rng.normal(0.0, noise, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def sticker_frames(
    text: str | None = "滚",
    *,
    frames: int = 1,
    size: int = 240,
    seed: int = 1,
) -> list[Image.Image]:
    """Frames of a sticker: a round face on a transparent background, a word beneath or
    above it, the face moving from frame to frame (RGBA). The seed picks the colour,
    size and place of the face and where the word goes."""
    rng = random.Random(seed)
    face: RGB = (rng.randrange(0, 256), rng.randrange(0, 256), rng.randrange(0, 256))
    diameter = int(size * rng.uniform(0.4, 0.7))
    base_left = rng.randrange(0, size - diameter)
    text_on_top = rng.random() < 0.5
    base_top = size - diameter - size // 20 if text_on_top else size // 20
    mouth = (200, 340) if rng.random() < 0.5 else (20, 160)
    result = []
    for index in range(frames):
        image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        shift = int(size * 0.08 * np.sin(2 * np.pi * index / max(frames, 1)))
        left, top = min(max(0, base_left + shift), size - diameter), base_top
        draw.ellipse((left, top, left + diameter, top + diameter), fill=(*face, 255))
        eye = diameter // 10
        for eye_x in (left + diameter // 3, left + 2 * diameter // 3):
            draw.ellipse(
                (eye_x - eye, top + diameter // 3, eye_x + eye, top + diameter // 3 + eye * 2),
                "black",
            )
        draw.arc(
            (
                left + diameter // 4,
                top + diameter // 2,
                left + 3 * diameter // 4,
                top + 4 * diameter // 5,
            ),
            *mouth,
            "black",
            4,
        )
        if text:
            font = cjk_font(size // 5)
            anchor, y = ("mt", size // 30) if text_on_top else ("mb", size - size // 30)
            draw.text((size // 2, y), text, font=font, fill=(200, 0, 0, 255), anchor=anchor)
        result.append(image)
    return result


def sticker(text: str | None = "滚", *, frames: int = 1, fmt: str = "png", seed: int = 1) -> bytes:
    """A sticker file: a still PNG/WebP, or an animated GIF/WebP when ``frames`` > 1."""
    images = sticker_frames(text, frames=frames, seed=seed)
    if frames > 1:
        return animated(images, "webp" if fmt == "webp" else "gif")
    return encode(images[0], fmt)


# -- transformed copies (for perceptual hashes) ----------------------------------------------


def resized(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    return image.resize(
        (max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.BILINEAR
    )


def recompressed(image: Image.Image, quality: int = 60) -> Image.Image:
    """``image`` after a round trip through JPEG at ``quality``."""
    return Image.open(io.BytesIO(jpeg(image, quality))).convert("RGB")


def cropped(image: Image.Image, fraction: float = 0.05) -> Image.Image:
    """``image`` with ``fraction`` of its width and height cut off, split over both sides."""
    width, height = image.size
    dx, dy = round(width * fraction / 2), round(height * fraction / 2)
    return image.crop((dx, dy, width - dx, height - dy))


def brightened(image: Image.Image, factor: float = 1.2) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(factor)


TRANSFORMS = {
    "resized_50": lambda image: resized(image, 0.5),
    "resized_150": lambda image: resized(image, 1.5),
    "jpeg_q40": lambda image: recompressed(image, 40),
    "cropped_5pct": lambda image: cropped(image, 0.05),
    "brightened_20pct": lambda image: brightened(image, 1.2),
    "all_of_them": lambda image: brightened(
        recompressed(cropped(resized(image, 0.6), 0.04), 50), 1.15
    ),
}


# -- hostile files ---------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels and whose image
    data is a few bytes: a decoder that trusts the header allocates gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real decompression bomb: a valid all-black 1-bit PNG of ``width`` x ``height``
    (20,000² is 400 M pixels, 1.2 GB as RGB) that compresses to a few hundred KB."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 500) for _ in range(height // 500)]
    chunks.append(compressor.compress(row * (height % 500)))
    chunks.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(chunks))
        + _png_chunk(b"IEND", b"")
    )


def many_frame_gif(frames: int = 5_000, side: int = 16) -> bytes:
    """A GIF of ``frames`` frames (each a full ``side``² frame in one of two colours),
    built byte by byte: 100,000 frames cost a few milliseconds to make."""
    header = b"GIF89a" + struct.pack("<HHBBB", side, side, 0xF0, 0, 0)  # 2-colour global table
    palette = b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    blocks = []
    for colour in (0, 1):
        control = b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # no disposal, 10 ms
        descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0)
        blocks.append(control + descriptor + _gif_lzw_solid(side * side, colour))
    body = b"".join(blocks[index % 2] for index in range(frames))
    return header + palette + loop + body + b"\x3b"


def _gif_lzw_solid(count: int, colour: int) -> bytes:
    """LZW image data (minimum code size 2) for ``count`` pixels of one ``colour``, coded
    without compression (a clear code every few codes keeps the code width at 3 bits)."""
    clear, end = 4, 5
    codes = [clear]
    for index in range(count):
        codes.append(colour)
        if index % 2 == 1:
            codes.append(clear)
    codes.append(end)
    bits = 0
    nbits = 0
    out = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += 3
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    data = bytes(out)
    sub_blocks = b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    return b"\x02" + sub_blocks + b"\x00"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` fraction of ``data`` (a download cut short)."""
    return data[: max(1, int(len(data) * keep))]


def zip_archive() -> bytes:
    """A ZIP archive (to be named ``.png`` by the test)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a picture\n" * 10)
    return buffer.getvalue()


def random_bytes(size: int = 4096, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _vertical_gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    colours = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    pixels = np.broadcast_to(colours, (height, width, 3)).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")

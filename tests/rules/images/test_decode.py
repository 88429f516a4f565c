"""Decoding: formats, sniffing, EXIF orientation, animation sampling, scaling, pixel modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rules.images.decode import (
    DecodedImage,
    DecodeFailure,
    DecodeFailureReason,
    DecodeLimits,
    count_gif_frames,
    decode_image,
    sniff,
)
from tests import imagegen


def decoded(data: bytes, limits: DecodeLimits | None = None) -> DecodedImage:
    result = decode_image(data, limits)
    assert isinstance(result, DecodedImage), result
    return result


def failed(data: bytes, limits: DecodeLimits | None = None) -> DecodeFailure:
    result = decode_image(data, limits)
    assert isinstance(result, DecodeFailure), result
    return result


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "gif", "bmp"])
def test_formats(fmt: str) -> None:
    picture = imagegen.photo(seed=3, size=(320, 200))
    result = decoded(imagegen.encode(picture, fmt))
    assert result.format == fmt
    assert (result.width, result.height) == (320, 200)
    assert [frame.size for frame in result.frames] == [(320, 200)]
    assert all(frame.mode == "RGB" for frame in result.frames)
    assert not result.animated and result.frame_indices == (0,)
    difference = np.abs(np.asarray(result.first, np.int16) - np.asarray(picture, np.int16)).mean()
    assert difference < 12  # lossy formats stay close to the picture


@pytest.mark.parametrize(
    ("head", "kind", "is_image", "supported"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg", True, True),
        (b"\x89PNG\r\n\x1a\n", "png", True, True),
        (b"GIF89a", "gif", True, True),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp", True, True),
        (b"\x00\x00\x00\x1cftypheic", "heic", True, False),
        (b"\x00\x00\x00\x1cftypisom", "video", False, False),
        (b"II*\x00", "tiff", True, False),
        (b"PK\x03\x04", "zip", False, False),
        (b"\x1f\x8b\x08", "gzip", False, False),
        (b"%PDF-1.7", "pdf", False, False),
        (b"  <!DOCTYPE html><html>", "html", False, False),
        (b"<?xml version='1.0'?><svg xmlns=...>", "svg", True, False),
        (b'{"retcode": 100}', "json", False, False),
        (b"hello world", "text", False, False),
        (b"\x7fELF\x02", "elf", False, False),
        (b"\x00\x01\x02\x03\xfe", "unknown", False, False),
    ],
)
def test_sniff(head: bytes, kind: str, is_image: bool, supported: bool) -> None:
    sniffed = sniff(head)
    assert (sniffed.kind, sniffed.is_image, sniffed.supported) == (kind, is_image, supported)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", DecodeFailureReason.EMPTY),
        (imagegen.zip_archive(), DecodeFailureReason.NOT_AN_IMAGE),
        (b"<html><body>404</body></html>", DecodeFailureReason.NOT_AN_IMAGE),
        (b"II*\x00" + b"\x00" * 100, DecodeFailureReason.UNSUPPORTED_FORMAT),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, DecodeFailureReason.CORRUPT),
    ],
)
def test_refusals(data: bytes, reason: DecodeFailureReason) -> None:
    assert failed(data).reason == reason


def test_byte_limit_and_digests() -> None:
    data = imagegen.png(imagegen.photo(size=(64, 64)))
    result = failed(data, DecodeLimits(max_bytes=100))
    assert result.reason == DecodeFailureReason.TOO_MANY_BYTES
    ok = decoded(data)
    assert ok.sha256 == result.sha256 and len(ok.md5) == 32 and ok.byte_size == len(data)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = Image.new("RGB", (300, 150), "white")
    upright.paste((255, 0, 0), (0, 0, 100, 50))  # a red block in the top-left corner
    result = decoded(imagegen.jpeg(upright, 95, orientation=orientation))
    assert (result.width, result.height) == (300, 150)
    frame = result.first
    assert frame.size == (300, 150)
    red, green, _ = frame.getpixel((20, 20))  # type: ignore[misc]
    assert red > 200 and green < 60, (orientation, frame.getpixel((20, 20)))
    red, green, _ = frame.getpixel((280, 130))  # type: ignore[misc]
    assert green > 200


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((4000, 3000), 2048, (2048, 1536)),
        ((1080, 1920), 2048, (1080, 1920)),
        ((1080, 1920), 960, (540, 960)),
        ((6000, 100), 2048, (2048, 34)),
    ],
)
@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_scaled_to_max_side(
    size: tuple[int, int], max_side: int, expected: tuple[int, int], fmt: str
) -> None:
    picture = imagegen.photo(seed=5, size=size, noise=0)
    limits = DecodeLimits(max_side=max_side)
    result = decoded(imagegen.encode(picture, fmt), limits)
    assert result.first.size == expected
    assert (result.width, result.height) == size
    assert result.scale == pytest.approx(expected[0] / size[0])


def test_pixel_limit_is_checked_before_decoding() -> None:
    data = imagegen.png(imagegen.photo(size=(400, 300)))
    result = failed(data, DecodeLimits(max_pixels=100_000))
    assert result.reason == DecodeFailureReason.TOO_MANY_PIXELS
    assert "400x300" in result.detail


@pytest.mark.parametrize("fmt", ["gif", "webp"])
@pytest.mark.parametrize(
    ("frames", "expected"),
    [(1, (0,)), (2, (0, 1)), (8, (0, 4, 7)), (31, (0, 15, 30))],
)
def test_animation_first_middle_last(fmt: str, frames: int, expected: tuple[int, ...]) -> None:
    images = [
        Image.new("RGB", (64, 64), (index * 8 % 256, 255 - index * 8 % 256, 128))
        for index in range(frames)
    ]
    data = imagegen.animated(images, fmt) if frames > 1 else imagegen.encode(images[0], fmt)
    result = decoded(data)
    assert result.frame_indices == expected
    assert result.animated == (frames > 1)
    assert result.frame_count == frames and not result.frames_truncated
    for index, frame in zip(result.frame_indices, result.frames, strict=True):
        red = frame.getpixel((32, 32))[0]  # type: ignore[index]
        assert abs(red - images[index].getpixel((32, 32))[0]) < 12  # type: ignore[index]


def test_animation_walk_is_bounded() -> None:
    data = imagegen.many_frame_gif(2_000)
    result = decoded(data, DecodeLimits(max_frames_walked=100))
    assert result.frame_indices == (0, 50, 99)
    assert result.frames_truncated and result.frame_count == 100


def test_gif_frame_count() -> None:
    assert count_gif_frames(imagegen.many_frame_gif(1234), stop_after=10**6) == 1234
    assert count_gif_frames(imagegen.many_frame_gif(1234), stop_after=10) == 10
    assert count_gif_frames(imagegen.truncated(imagegen.many_frame_gif(100)), 10**6) < 100
    assert count_gif_frames(b"not a gif", 10) == 0


def _encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _transparent_sticker() -> Image.Image:
    return imagegen.sticker_frames("滚")[0]


@pytest.mark.parametrize(
    ("name", "make", "corner"),
    [
        ("RGBA on white", lambda: _encoded(_transparent_sticker()), (255, 255, 255)),
        ("LA", lambda: _encoded(Image.new("LA", (40, 40), (0, 0))), (255, 255, 255)),
        (
            "P with transparency",
            lambda: _encoded(_transparent_sticker().convert("RGB").quantize(16)),
            None,
        ),
        ("L", lambda: _encoded(Image.new("L", (40, 40), 90)), (90, 90, 90)),
        ("1-bit", lambda: _encoded(Image.new("1", (40, 40), 1)), (255, 255, 255)),
        ("I;16", lambda: _encoded(Image.new("I;16", (40, 40), 65535)), (255, 255, 255)),
        (
            "CMYK JPEG",
            lambda: _encoded(Image.new("CMYK", (40, 40), (0, 0, 0, 0)), "JPEG"),
            (255, 255, 255),
        ),
    ],
)
def test_pixel_modes_become_rgb(
    name: str, make: object, corner: tuple[int, int, int] | None
) -> None:
    result = decoded(make())  # type: ignore[operator]
    frame = result.first
    assert frame.mode == "RGB", name
    if corner is not None:
        assert all(abs(a - b) <= 3 for a, b in zip(frame.getpixel((0, 0)), corner, strict=True)), (  # type: ignore[arg-type]
            name,
            frame.getpixel((0, 0)),
        )


def test_sticker_formats() -> None:
    for data in (
        imagegen.sticker(),
        imagegen.sticker(fmt="webp"),
        imagegen.sticker(frames=6),
        imagegen.sticker(frames=6, fmt="webp"),
    ):
        result = decoded(data)
        assert result.first.size == (240, 240)

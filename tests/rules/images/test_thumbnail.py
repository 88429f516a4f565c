"""Evidence thumbnails stay under their byte cap and decode back to a picture."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from rules.images.thumbnail import DEFAULT_MAX_BYTES, make_thumbnail
from tests import imagegen


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(lambda: imagegen.photo(seed=1, size=(2400, 1600)), id="noisy photo"),
        pytest.param(lambda: imagegen.phone_screenshot(), id="screenshot"),
        pytest.param(lambda: imagegen.poster(), id="poster"),
        pytest.param(lambda: imagegen.sticker_frames("滚")[0], id="transparent sticker"),
        pytest.param(lambda: Image.new("L", (50, 20), 128), id="tiny grey"),
    ],
)
@pytest.mark.parametrize("max_bytes", [DEFAULT_MAX_BYTES, 8 * 1024, 2048])
@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_thumbnail_fits_its_cap(picture: object, max_bytes: int, fmt: str) -> None:
    source = picture()  # type: ignore[operator]
    thumbnail = make_thumbnail(source, max_bytes=max_bytes, fmt=fmt)  # type: ignore[arg-type]
    assert len(thumbnail.data) <= max_bytes
    assert thumbnail.mime_type == f"image/{fmt}"
    image = Image.open(io.BytesIO(thumbnail.data))
    assert image.format == fmt.upper()
    assert image.size == (thumbnail.width, thumbnail.height)
    assert max(image.size) <= 512
    assert max(image.size) <= max(source.size)  # never enlarged
    ratio = source.width / source.height
    assert abs(image.width / image.height - ratio) < 0.1 * ratio + 0.05


def test_default_keeps_a_useful_size() -> None:
    thumbnail = make_thumbnail(imagegen.phone_screenshot())
    assert (thumbnail.width, thumbnail.height) == (288, 512) and thumbnail.quality >= 70


def test_transparency_becomes_white() -> None:
    thumbnail = make_thumbnail(Image.new("RGBA", (100, 100), (0, 0, 0, 0)))
    pixel = Image.open(io.BytesIO(thumbnail.data)).convert("RGB").getpixel((50, 50))
    assert pixel == pytest.approx((255, 255, 255), abs=3)


def test_impossible_cap_is_refused() -> None:
    with pytest.raises(ValueError):
        make_thumbnail(imagegen.photo(size=(100, 100)), max_bytes=100)

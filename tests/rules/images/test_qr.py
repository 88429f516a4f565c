"""QR codes: payloads read from posters, stickers and screenshots; nothing from a photo."""

from __future__ import annotations

import pytest
from PIL import Image

from rules.detectors.images.qr import QrScanSettings, read_codes
from rules.images.decode import DecodedImage, decode_image
from tests import imagegen

GROUP = "https://weixin.qq.com/g/AbCdEf123456"
CONTACT = "https://u.wechat.com/EAbCdEfGhIjK"


def decoded(data: bytes) -> DecodedImage:
    result = decode_image(data)
    assert isinstance(result, DecodedImage), result
    return result


def photo_with_code(payload: str, scale: int, at: tuple[int, int]) -> Image.Image:
    picture = imagegen.photo(seed=9, size=(1920, 1080))
    picture.paste(imagegen.qr_image(payload, scale=scale), at)
    return picture


@pytest.mark.parametrize(
    ("name", "data", "payloads"),
    [
        ("poster png", lambda: imagegen.png(imagegen.poster(qr_payload=GROUP)), [GROUP]),
        ("poster jpeg q50", lambda: imagegen.jpeg(imagegen.poster(qr_payload=GROUP), 50), [GROUP]),
        (
            "poster at 30%",
            lambda: imagegen.png(imagegen.resized(imagegen.poster(qr_payload=CONTACT), 0.3)),
            [CONTACT],
        ),
        ("poster without a code", lambda: imagegen.png(imagegen.poster(qr_payload=None)), []),
        ("photo", lambda: imagegen.jpeg(imagegen.photo()), []),
        ("screenshot", lambda: imagegen.png(imagegen.phone_screenshot()), []),
        ("sticker", lambda: imagegen.sticker(frames=4), []),
        (
            "small code in a photo",
            lambda: imagegen.jpeg(photo_with_code("http://spam.example/x", 3, (1600, 760))),
            ["http://spam.example/x"],
        ),
        (
            "code turned upside down",
            lambda: imagegen.png(imagegen.poster(qr_payload=GROUP).rotate(180)),
            [GROUP],
        ),
    ],
)
def test_payloads(name: str, data: object, payloads: list[str]) -> None:
    codes = read_codes(decoded(data()))  # type: ignore[operator]
    assert [code.text for code in codes] == payloads, name
    for code in codes:
        assert code.format == "QRCode" and code.frame == 0
        left, top, right, bottom = code.box
        assert right > left and bottom > top


def test_two_codes_and_their_positions() -> None:
    picture = Image.new("RGB", (1200, 600), "white")
    picture.paste(imagegen.qr_image(GROUP, scale=6), (40, 60))
    picture.paste(imagegen.qr_image(CONTACT, scale=6), (700, 60))
    codes = read_codes(picture)
    assert sorted(code.text for code in codes) == sorted([GROUP, CONTACT])
    by_text = {code.text: code for code in codes}
    assert by_text[GROUP].box[0] < 600 < by_text[CONTACT].box[0]


def test_animated_code_is_reported_once_from_its_first_frame() -> None:
    blank = Image.new("RGB", (400, 400), "white")
    frames = [blank]
    for index in range(4):  # identical GIF frames would be merged: move a dot
        frame = blank.copy()
        frame.paste(imagegen.qr_image(GROUP, scale=4), (40, 40))
        frame.paste((255, 0, 0), (350, 20 + 20 * index, 360, 30 + 20 * index))
        frames.append(frame)
    data = imagegen.animated(frames, "gif")
    picture = decoded(data)
    assert picture.frame_indices == (0, 2, 4)
    codes = read_codes(picture)
    assert [(code.text, code.frame) for code in codes] == [(GROUP, 1)]  # index into frames


def test_formats_are_configurable() -> None:
    import zxingcpp

    barcode = zxingcpp.create_barcode("4006381333931", zxingcpp.BarcodeFormat.EAN13)
    picture = Image.fromarray(zxingcpp.write_barcode_to_image(barcode, scale=4)).convert("RGB")
    framed = Image.new("RGB", (picture.width + 80, picture.height + 80), "white")
    framed.paste(picture, (40, 40))
    assert read_codes(framed) == ()  # the QR family only, by default
    codes = read_codes(framed, QrScanSettings(formats=("QRCode", "EAN13")))
    assert [(code.text, code.format) for code in codes] == [("4006381333931", "EAN13")]
    with pytest.raises(ValueError, match="unknown barcode format"):
        QrScanSettings(formats=("Nope",))

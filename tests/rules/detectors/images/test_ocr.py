"""OCR on generated pictures: Chinese phrases read from posters, screenshots and stickers,
photos read as empty, failures typed. The models load once for the module (~0.3 s)."""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from rules.detectors.images import ocr
from rules.detectors.images.ocr import (
    FailureKind,
    OcrEngine,
    OcrFailure,
    OcrLine,
    OcrSettings,
    OcrText,
    join_lines,
)
from tests import imagegen


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    engine = OcrEngine()
    failure = engine.load()
    assert failure is None, f"OCR did not load: {failure}"
    return engine


def read(engine: OcrEngine, image: object, **kwargs: int) -> OcrText:
    result = engine.read(image, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, OcrText), result
    return result


def squashed(text: str) -> str:
    return "".join(text.split())


def test_reads_the_phrases_on_a_poster(engine: OcrEngine) -> None:
    image = imagegen.poster("网络赌博 日赚千元", ("代开发票 加微信", "官网 www.bet365-vip.com"))
    result = read(engine, image)
    for phrase in ("网络赌博", "代开发票", "加微信", "www.bet365-vip.com"):
        assert phrase in squashed(result.text), result.text
    title = result.lines[0]
    assert squashed(title.text) == "网络赌博日赚千元"
    assert title.confidence > 0.8
    (left, top), _, (right, bottom), _ = title.box
    assert 0 <= left < right <= image.width and 0 <= top < bottom < image.height // 3


def test_reads_a_phone_screenshot_in_reading_order(engine: OcrEngine) -> None:
    lines = ("明天上午开会", "代开发票，请加微信", "收到", "网址 dk88.cc 注册送彩金")
    result = read(engine, imagegen.phone_screenshot(lines))
    text = squashed(result.text)
    positions = [text.find(squashed(line)) for line in lines]
    assert all(p >= 0 for p in positions), result.text
    assert positions == sorted(positions)
    assert result.skipped == 0


def test_reads_the_word_on_a_transparent_sticker(engine: OcrEngine) -> None:
    (frame,) = imagegen.sticker_frames("加微信", seed=3)
    assert frame.mode == "RGBA"
    assert "加微信" in squashed(read(engine, frame).text)


def test_a_photo_without_text_reads_empty_and_quickly(engine: OcrEngine) -> None:
    photo = imagegen.photo(seed=4, size=(1280, 960))
    started = time.thread_time()  # CPU time: other processes on the machine do not count
    result = read(engine, photo)
    cpu = time.thread_time() - started
    assert result.empty and result.text == "" and result.skipped == 0
    assert cpu < 0.4, cpu  # one detection pass, ~80 ms on one core; no recognition


def test_arrays_are_read_like_images(engine: OcrEngine) -> None:
    image = imagegen.text_image(["扫码进群"], width=400)
    from_array = read(engine, np.asarray(image))
    assert from_array.text == read(engine, image).text == "扫码进群"
    grey = read(engine, np.asarray(image.convert("L")))
    assert grey.text == "扫码进群"


def test_the_budget_reads_the_biggest_text_first_and_counts_the_rest(engine: OcrEngine) -> None:
    image = imagegen.poster("网络赌博", tuple(f"第{n}行小字说明文字内容" for n in range(8)))
    full = read(engine, image)
    assert full.skipped == 0
    small = read(engine, image, rec_budget=250)
    assert small.skipped > 0 and len(small.lines) + small.skipped == len(full.lines)
    assert small.lines[0].text == "网络赌博"


def test_threads_share_one_engine(engine: OcrEngine) -> None:
    images = [imagegen.text_image([f"加微信{n}号"], width=400) for n in range(4)]
    expected = [read(engine, image).text for image in images]
    results: list[str] = [""] * len(images)

    def work(i: int) -> None:
        results[i] = read(engine, images[i]).text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected == [f"加微信{n}号" for n in range(4)]


def test_missing_model_files_are_a_typed_failure(tmp_path: Path) -> None:
    engine = OcrEngine(OcrSettings(models_dir=tmp_path))
    first = engine.read(imagegen.photo(seed=1, size=(64, 64), noise=0))
    assert isinstance(first, OcrFailure) and first.kind is FailureKind.LOAD_FAILED
    assert str(tmp_path) in first.reason
    assert engine.read(np.zeros((8, 8, 3), np.uint8)) == first  # no retry per picture
    assert not engine.loaded


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ImportError("libGL.so.1: cannot open shared object file: No such file or directory"),
            "apt-get install libgl1",
        ),
        (ModuleNotFoundError("No module named 'cv2'", name="cv2"), "install rapidocr-onnxruntime"),
    ],
)
def test_a_backend_that_cannot_import_is_a_typed_failure(
    monkeypatch: pytest.MonkeyPatch, error: ImportError, expected: str
) -> None:
    def failing_import(name: str) -> types.ModuleType:
        raise error

    monkeypatch.setattr(ocr, "_import", failing_import)
    result = OcrEngine().read(np.zeros((8, 8, 3), np.uint8))
    assert isinstance(result, OcrFailure) and result.kind is FailureKind.NOT_INSTALLED
    assert expected in result.reason


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 2), np.uint8),
        np.zeros((1, 1, 3), np.uint8),
    ],
    ids=["float", "two-channel", "one-pixel"],
)
def test_unreadable_pixels_are_a_typed_failure(engine: OcrEngine, pixels: np.ndarray) -> None:
    result = engine.read(pixels)
    assert isinstance(result, OcrFailure) and result.kind is FailureKind.BAD_IMAGE


def box(left: int, top: int, right: int, bottom: int) -> tuple[tuple[int, int], ...]:
    return ((left, top), (right, top), (right, bottom), (left, bottom))


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([("加微信", box(0, 0, 100, 40))], "加微信"),
        ([("左", box(0, 0, 50, 40)), ("右", box(300, 5, 350, 42))], "左 右"),  # one row
        ([("上", box(0, 0, 50, 40)), ("下", box(0, 60, 50, 100))], "上\n下"),
        ([("a", box(0, 0, 50, 40)), ("b", box(0, 30, 50, 70))], "a\nb"),  # a quarter overlaps
    ],
)
def test_join_lines(boxes: list[tuple[str, tuple[tuple[int, int], ...]]], expected: str) -> None:
    lines = [OcrLine(text, b, 0.9) for text, b in boxes]  # type: ignore[arg-type]
    assert join_lines(lines) == expected


def test_reading_order_rows_then_left_to_right() -> None:
    def quad(left: int, top: int, right: int, bottom: int) -> np.ndarray:
        return np.array(box(left, top, right, bottom), np.float32)

    right_first = quad(500, 2, 600, 42)
    left_second = quad(10, 0, 200, 40)
    below = quad(10, 80, 200, 120)
    ordered = ocr.reading_order([below, right_first, left_second])
    assert [int(b[0][0]) for b in ordered] == [10, 500, 10]
    assert int(ordered[2][0][1]) == 80


@pytest.mark.parametrize(
    "kwargs",
    [{"threads": 0}, {"det_pixels": 100}, {"rec_budget": 0}, {"rec_squeeze": 0.1}],
)
def test_settings_refuse_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OcrSettings(**kwargs)  # type: ignore[arg-type]

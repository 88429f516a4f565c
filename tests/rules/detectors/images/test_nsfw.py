"""The optional NSFW classifier: typed states when it cannot run, and (when nudenet is
installed) the model finding a face in a real photo and nothing explicit in chat pictures."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from rules.detectors.images import nsfw
from rules.detectors.images.nsfw import (
    NsfwClassifier,
    NsfwProblem,
    NsfwSettings,
    NsfwUnavailable,
    NsfwVerdict,
)
from tests import imagegen

needs_model = pytest.mark.skipif(
    not nsfw.installed(),
    reason="nudenet is not installed (optional extra: pip install --no-deps nudenet==3.4.2)",
)
# A real photograph that ships with matplotlib (a main dependency): Grace Hopper's portrait.
PORTRAIT = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def classifier() -> NsfwClassifier:
    classifier = NsfwClassifier()
    assert classifier.load() is None
    return classifier


@needs_model
def test_finds_the_face_in_a_portrait_and_nothing_explicit(classifier: NsfwClassifier) -> None:
    verdict = classifier.classify(Image.open(PORTRAIT))
    assert isinstance(verdict, NsfwVerdict)
    assert verdict.score == 0.0 and verdict.explicit == ()
    face = verdict.regions[0]
    assert face.label == "FACE_FEMALE" and face.score > 0.6
    left, top, width, height = face.box
    assert 120 < left < 220 and 100 < top < 200 and 120 < width < 260 and 140 < height < 280


@needs_model
@pytest.mark.parametrize(
    "picture",
    [
        lambda: imagegen.poster(),
        lambda: imagegen.phone_screenshot(),
        lambda: imagegen.photo(seed=2),
        lambda: imagegen.sticker_frames("滚")[0],  # RGBA
    ],
    ids=["poster", "screenshot", "photo", "sticker"],
)
def test_chat_pictures_score_low(classifier: NsfwClassifier, picture: object) -> None:
    verdict = classifier.classify(picture())  # type: ignore[operator]
    assert isinstance(verdict, NsfwVerdict)
    assert verdict.score < 0.25


@needs_model
def test_score_uses_one_classifier_per_process() -> None:
    assert nsfw.score(Image.open(PORTRAIT)) == 0.0
    assert nsfw.default_classifier() is nsfw.default_classifier()


def test_not_installed_is_a_state_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nsfw, "model_file", lambda: None)
    monkeypatch.setattr(nsfw, "_default", None)
    result = NsfwClassifier().classify(imagegen.photo(seed=1, size=(64, 64), noise=0))
    assert isinstance(result, NsfwUnavailable) and result.problem is NsfwProblem.NOT_INSTALLED
    assert "nudenet" in result.reason
    assert nsfw.score(imagegen.photo(seed=1, size=(64, 64), noise=0)) is None


@pytest.mark.parametrize("content", [None, b"not an onnx model"], ids=["missing", "corrupt"])
def test_a_model_that_cannot_load_is_a_typed_failure(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "320n.onnx"
    if content is not None:
        path.write_bytes(content)
    classifier = NsfwClassifier(NsfwSettings(model_path=path))
    result = classifier.classify(imagegen.photo(seed=1, size=(64, 64), noise=0))
    assert isinstance(result, NsfwUnavailable) and result.problem is NsfwProblem.LOAD_FAILED
    assert not classifier.loaded


def anchors(*boxes: tuple[float, float, float, float, str, float]) -> np.ndarray:
    """A model output: one column per anchor, rows cx, cy, w, h, then a score per label."""
    output = np.zeros((4 + len(nsfw.LABELS), len(boxes)), np.float32)
    for column, (cx, cy, w, h, label, score) in enumerate(boxes):
        output[:4, column] = (cx, cy, w, h)
        output[4 + nsfw.LABELS.index(label), column] = score
    return output


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (anchors(), []),
        (anchors((100, 100, 40, 40, "FACE_MALE", 0.1)), []),  # below the candidate cut
        (
            anchors((100, 100, 40, 40, "BUTTOCKS_EXPOSED", 0.9)),
            [("BUTTOCKS_EXPOSED", (160, 160, 80, 80))],  # scaled x2 to the picture
        ),
        (
            anchors(
                (100, 100, 40, 40, "FEET_EXPOSED", 0.5),
                (102, 101, 40, 40, "FEET_COVERED", 0.7),  # overlaps: the weaker one goes
                (250, 250, 20, 20, "FACE_FEMALE", 0.3),
            ),
            [("FEET_COVERED", (164, 162, 80, 80)), ("FACE_FEMALE", (480, 480, 40, 40))],
        ),
        (
            anchors((310, 10, 40, 40, "FACE_FEMALE", 0.8)),  # clipped at the picture's edge
            [("FACE_FEMALE", (580, 0, 20, 60))],
        ),
    ],
)
def test_regions_from_model_output(
    output: np.ndarray, expected: list[tuple[str, tuple[int, int, int, int]]]
) -> None:
    regions = nsfw._regions(output, 2.0, (600, 640))
    assert [(r.label, r.box) for r in regions] == expected


def test_settings_refuse_unknown_labels() -> None:
    with pytest.raises(ValueError, match="NOT_A_LABEL"):
        NsfwSettings(explicit=frozenset({"NOT_A_LABEL"}))

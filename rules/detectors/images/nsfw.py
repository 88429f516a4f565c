"""Optional nudity classifier for pictures: evidence for the officers' review, never a verdict.

It runs the YOLOv8n detector (320x320 input, 18 body-part labels) that ships
inside the ``nudenet`` wheel (3.4.2, MIT), on onnxruntime with one thread,
with our own pre- and post-processing; nudenet's Python code is never
imported. That keeps OpenCV out of it and lets us feed the model RGB as it
was trained: nudenet 3.4.2 feeds pictures it reads from files as BGR (on
matplotlib's ``grace_hopper.jpg`` RGB finds the face at 0.81, BGR at 0.68).

The package is an optional extra (``pip install --no-deps nudenet==3.4.2``:
its declared opencv-python-headless would sit beside rapidocr's opencv-python
in the same ``cv2`` folder). When it is missing the classifier says so
(``NsfwProblem.NOT_INSTALLED``) and :func:`score` returns ``None``.

Classifiers like this misjudge drawings, stickers and skin-coloured scenes,
so a high score is a reason to show the picture to an officer, not to act.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

PACKAGE: Final = "nudenet"
MODEL_FILE: Final = "320n.onnx"

LABELS: Final = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
EXPLICIT: Final = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
_CANDIDATE_SCORE = 0.2  # nudenet's cut before non-maximum suppression
_NMS_SCORE, _NMS_IOU = 0.25, 0.45  # nudenet's suppression settings


@dataclass(frozen=True, slots=True)
class NsfwSettings:
    threads: int = 1  # onnxruntime intra-op threads
    resolution: int = 320  # the model's input side (it was trained at 320)
    explicit: frozenset[str] = EXPLICIT  # labels whose regions make up the score
    model_path: Path | None = None  # None: the model inside the installed nudenet

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.resolution < 32 or self.resolution % 32:
            raise ValueError("resolution must be a multiple of 32")
        if unknown := self.explicit - set(LABELS):
            raise ValueError(f"unknown labels: {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class NsfwRegion:
    label: str  # one of LABELS
    score: float
    box: tuple[int, int, int, int]  # left, top, width, height in picture pixels


@dataclass(frozen=True, slots=True)
class NsfwVerdict:
    """The regions found (faces and covered parts included), best first.

    ``score`` is the best score among the explicit labels, 0.0 when there is
    none: the number a group's threshold is compared with.
    """

    score: float
    regions: tuple[NsfwRegion, ...]
    seconds: float = 0.0

    @property
    def explicit(self) -> tuple[NsfwRegion, ...]:
        return tuple(r for r in self.regions if r.label in EXPLICIT)


class NsfwProblem(StrEnum):
    NOT_INSTALLED = "not_installed"  # the optional nudenet package is not installed
    LOAD_FAILED = "load_failed"  # its model could not be loaded
    BAD_IMAGE = "bad_image"
    INFERENCE_FAILED = "inference_failed"


@dataclass(frozen=True, slots=True)
class NsfwUnavailable:
    problem: NsfwProblem
    reason: str  # one sentence an operator can act on


NsfwResult = NsfwVerdict | NsfwUnavailable


def installed() -> bool:
    """Whether the optional package is there (without importing it)."""
    return model_file() is not None


def model_file() -> Path | None:
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


@dataclass(slots=True)
class _LoadState:
    session: Any = None
    input_name: str = ""
    failure: NsfwUnavailable | None = None
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class NsfwClassifier:
    """Scores pictures. Cheap to build (the model loads on first use); threads may share one."""

    def __init__(self, settings: NsfwSettings | None = None) -> None:
        self.settings = settings or NsfwSettings()
        self._state = _LoadState()

    def load(self) -> NsfwUnavailable | None:
        """Load the model now (idempotent); return why not if it cannot be used."""
        state = self._state
        if state.session is None and state.failure is None:
            with state.lock:
                if state.session is None and state.failure is None:
                    started = time.perf_counter()
                    self._load(state)
                    state.seconds = time.perf_counter() - started
        return state.failure

    @property
    def loaded(self) -> bool:
        return self._state.session is not None

    @property
    def load_seconds(self) -> float:
        return self._state.seconds

    def _load(self, state: _LoadState) -> None:
        path = self.settings.model_path or model_file()
        if path is None:
            state.failure = NsfwUnavailable(
                NsfwProblem.NOT_INSTALLED,
                "the NSFW classifier is not installed: pip install --no-deps nudenet==3.4.2",
            )
            return
        try:
            import onnxruntime as ort

            if not path.is_file():
                raise FileNotFoundError(f"no model file at {path}")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.settings.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            state.input_name = session.get_inputs()[0].name
            state.session = session
        except Exception as exc:  # a missing or corrupt model, onnxruntime refusing it
            detail = (str(exc).strip().splitlines() or [""])[0]
            state.failure = NsfwUnavailable(
                NsfwProblem.LOAD_FAILED,
                f"the NSFW model could not be loaded ({type(exc).__name__}: {detail})",
            )

    def classify(self, image: Image.Image) -> NsfwResult:
        """The regions the model finds in a decoded picture, and the explicit score."""
        failure = self.load()
        if failure is not None:
            return failure
        started = time.perf_counter()
        try:
            blob, scale, size = self._blob(image)
        except (ValueError, OSError) as exc:
            return NsfwUnavailable(NsfwProblem.BAD_IMAGE, f"not a readable picture: {exc}")
        try:
            (output,) = self._state.session.run(None, {self._state.input_name: blob})[:1]
        except Exception as exc:  # onnxruntime raises its own types
            return NsfwUnavailable(NsfwProblem.INFERENCE_FAILED, f"{type(exc).__name__}: {exc}")
        regions = _regions(output[0], scale, size)
        best = max((r.score for r in regions if r.label in self.settings.explicit), default=0.0)
        return NsfwVerdict(best, regions, time.perf_counter() - started)

    def _blob(self, image: Image.Image) -> tuple[NDArray[np.float32], float, tuple[int, int]]:
        """The picture padded to a square (black, right and bottom), scaled to the input side."""
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            rgba = image.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(flat, rgba)
        rgb = image.convert("RGB")
        width, height = rgb.size
        if width < 2 or height < 2:
            raise ValueError(f"picture too small ({width}x{height})")
        side = max(width, height)
        square = Image.new("RGB", (side, side))
        square.paste(rgb, (0, 0))
        target = self.settings.resolution
        pixels = np.asarray(square.resize((target, target), Image.Resampling.BILINEAR))
        blob = (pixels.astype(np.float32) / 255).transpose(2, 0, 1)[np.newaxis]
        return np.ascontiguousarray(blob), side / target, (width, height)


def _regions(output: NDArray[Any], scale: float, size: tuple[int, int]) -> tuple[NsfwRegion, ...]:
    """YOLOv8 output (4 + labels rows, one column per anchor) to regions after suppression."""
    rows = output.T
    class_scores = rows[:, 4:]
    label_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), label_ids]
    keep = scores >= _CANDIDATE_SCORE
    if not keep.any():
        return ()
    rows, label_ids, scores = rows[keep], label_ids[keep], scores[keep]
    width, height = size
    centre_x, centre_y, box_w, box_h = (rows[:, i] * scale for i in range(4))
    left = np.clip(centre_x - box_w / 2, 0, width)  # the box's part inside the picture
    top = np.clip(centre_y - box_h / 2, 0, height)
    box_w = np.clip(centre_x + box_w / 2, 0, width) - left
    box_h = np.clip(centre_y + box_h / 2, 0, height) - top
    chosen = _suppress(left, top, box_w, box_h, scores)
    return tuple(
        NsfwRegion(
            LABELS[int(label_ids[i])],
            float(scores[i]),
            (int(left[i]), int(top[i]), int(box_w[i]), int(box_h[i])),
        )
        for i in chosen
    )


def _suppress(
    left: NDArray[Any],
    top: NDArray[Any],
    width: NDArray[Any],
    height: NDArray[Any],
    scores: NDArray[Any],
) -> list[int]:
    """Greedy non-maximum suppression across labels (as nudenet does), best first."""
    order = [int(i) for i in np.argsort(-scores) if scores[i] >= _NMS_SCORE]
    right, bottom = left + width, top + height
    area = width * height
    chosen: list[int] = []
    for i in order:
        suppressed = False
        for j in chosen:
            overlap_w = min(right[i], right[j]) - max(left[i], left[j])
            overlap_h = min(bottom[i], bottom[j]) - max(top[i], top[j])
            if overlap_w <= 0 or overlap_h <= 0:
                continue
            inter = overlap_w * overlap_h
            union = area[i] + area[j] - inter
            if union > 0 and inter / union > _NMS_IOU:
                suppressed = True
                break
        if not suppressed:
            chosen.append(i)
    return chosen


_default: NsfwClassifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> NsfwClassifier:
    """One classifier per process, built on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = NsfwClassifier()
    return _default


def score(image: Image.Image) -> float | None:
    """The explicit score of a picture (0.0 to 1.0), or None when the classifier cannot run."""
    result = default_classifier().classify(image)
    return None if isinstance(result, NsfwUnavailable) else result.score

"""Offline OCR for pictures: the text the keyword, link and PII detectors read.

A thin, tuned pipeline over the PP-OCRv4 Chinese models that ship inside the
``rapidocr-onnxruntime`` wheel (nothing is downloaded at run time). We drive
its models ourselves instead of calling ``RapidOCR`` because its defaults are
slow on the pictures groups see (phone screenshots, posters): detection runs
at the picture's full size (a 1080x1920 screenshot is inferred at 1088x1920),
every box goes through the angle classifier, and dense text is read whole.
Here, each a measured lever (figures in ``bench/images.py``):

- detection runs on a copy scaled down to ``det_pixels`` (416x736 for a
  phone screenshot; boxes are mapped back to full size);
- recognition reads crops cut from the full-size picture, so the small
  detection input costs no recognition accuracy;
- no text box means no recognition at all (a photo costs one detection pass);
- crops are narrowed by ``rec_squeeze`` before recognition (the model was
  trained on squeezed lines; 0.75 kept every planted phrase, 0.6 lost URLs);
- recognition reads one crop per call (``rec_batch``): on one core, batches
  of 6 were a third slower (padding and a larger working set);
- the angle classifier (upside-down lines) is off unless asked for;
- at most ``rec_budget`` pixels of crop width are read, largest text first:
  recognition time is linear in it, so this bounds the worst case (a page of
  small print); what was left unread is counted in ``OcrText.skipped``.
 The models load lazily
on first use (or ``load()``), once, under a lock. One ``OcrEngine`` may be
shared by the threads of a pool: onnxruntime sessions are safe to run
concurrently and release the GIL while they infer, and the pipeline keeps no
per-call state on the engine. If the backend cannot load (package missing,
``libGL.so.1`` missing for OpenCV, a model file gone) every call returns an
``OcrFailure`` saying why, instead of raising.
"""

from __future__ import annotations

import importlib
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

BACKEND: Final = "rapidocr_onnxruntime"
REC_HEIGHT: Final = 48  # the recognition model's input height
Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class OcrSettings:
    """How the OCR pipeline trades time for recall (defaults measured in bench/images.py)."""

    threads: int = 1  # onnxruntime intra-op threads per model, and OpenCV's (process-wide)
    det_pixels: int = 736 * 416  # the text detector's input area (the picture is scaled down)
    max_boxes: int = 64  # text boxes read per picture (the rest are counted as skipped)
    rec_budget: int = 12_000  # summed width of the crops read, in pixels at recognition height
    rec_squeeze: float = 0.75  # crops are narrowed by this before recognition
    rec_batch: int = 1  # crops per recognition call (one is fastest on one core: measured)
    use_angle_cls: bool = False  # classify upside-down lines (rare in chat pictures)
    min_confidence: float = 0.5  # recognised lines below this are dropped
    box_threshold: float = 0.5  # detector score a text box needs
    models_dir: Path | None = None  # None: the models inside the installed wheel

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.det_pixels < 64 * 64:
            raise ValueError("det_pixels must be at least 64x64")
        if self.max_boxes < 1 or self.rec_batch < 1 or self.rec_budget < 1:
            raise ValueError("max_boxes, rec_budget and rec_batch must be at least 1")
        if not 0.3 <= self.rec_squeeze <= 1.0:
            raise ValueError("rec_squeeze must be between 0.3 and 1.0")


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line: its text, its quadrilateral in picture pixels, its confidence."""

    text: str
    box: tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left
    confidence: float


@dataclass(frozen=True, slots=True)
class OcrText:
    """What OCR read in one picture.

    ``text`` is the lines in reading order (top to bottom, left to right), one
    row per line of output and boxes on the same row separated by a space: this
    is what the text detectors read, and ``OcrLine`` spans are not offsets into
    it. ``skipped`` counts text boxes found but not read (over the recognition
    budget or ``max_boxes``).
    """

    lines: tuple[OcrLine, ...]
    text: str
    skipped: int = 0
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.lines


class FailureKind(StrEnum):
    NOT_INSTALLED = "not_installed"  # the OCR package (or a library it imports) is missing
    LOAD_FAILED = "load_failed"  # the models could not be loaded
    BAD_IMAGE = "bad_image"  # the picture could not be turned into pixels
    INFERENCE_FAILED = "inference_failed"  # the models raised on this picture


@dataclass(frozen=True, slots=True)
class OcrFailure:
    kind: FailureKind
    reason: str  # one sentence an operator can act on


OcrResult = OcrText | OcrFailure


@dataclass(slots=True)
class _Models:
    det_session: Any
    det_input: str
    det_post: Any
    rec_session: Any
    rec_input: str
    rec_decode: Any  # CTC decoding with the character list stored in the model
    classifier: Any | None
    cv2: Any


@dataclass(slots=True)
class _LoadState:
    models: _Models | None = None
    failure: OcrFailure | None = None
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class OcrEngine:
    """Reads text in pictures. Cheap to build; the models load on first use."""

    def __init__(self, settings: OcrSettings | None = None) -> None:
        self.settings = settings or OcrSettings()
        self._state = _LoadState()

    # -- loading -------------------------------------------------------------

    def load(self) -> OcrFailure | None:
        """Load the models now (idempotent); return why not if they cannot load."""
        state = self._state
        if state.models is None and state.failure is None:
            with state.lock:
                if state.models is None and state.failure is None:
                    started = time.perf_counter()
                    loaded = _load_models(self.settings)
                    state.seconds = time.perf_counter() - started
                    if isinstance(loaded, OcrFailure):
                        state.failure = loaded
                    else:
                        state.models = loaded
        return state.failure

    @property
    def loaded(self) -> bool:
        return self._state.models is not None

    @property
    def load_seconds(self) -> float:
        """Wall time the model load took (imports included), 0 before it ran."""
        return self._state.seconds

    # -- reading -------------------------------------------------------------

    def read(
        self, image: Image.Image | NDArray[Any], *, rec_budget: int | None = None
    ) -> OcrResult:
        """Read the text in a decoded picture (a PIL image, or an RGB/RGBA/grey array).

        ``rec_budget`` overrides the settings' for this call (for example a
        larger one for an officer's ``scan`` than for live traffic).
        """
        failure = self.load()
        if failure is not None:
            return failure
        models = self._state.models
        assert models is not None
        started = time.perf_counter()
        try:
            bgr = _to_bgr(image, models.cv2)
        except (ValueError, TypeError, OSError) as exc:
            return OcrFailure(FailureKind.BAD_IMAGE, f"not a readable picture: {exc}")
        try:
            lines, skipped = self._read_bgr(models, bgr, rec_budget or self.settings.rec_budget)
        except Exception as exc:  # onnxruntime and OpenCV raise many types; the caller goes on
            return OcrFailure(FailureKind.INFERENCE_FAILED, f"{type(exc).__name__}: {exc}")
        return OcrText(tuple(lines), join_lines(lines), skipped, time.perf_counter() - started)

    def _read_bgr(self, m: _Models, bgr: NDArray[Any], budget: int) -> tuple[list[OcrLine], int]:
        s = self.settings
        boxes = reading_order(self._detect(m, bgr))
        if not boxes:
            return [], 0
        chosen = _within_budget([_crop_shape(b) for b in boxes], s.rec_squeeze, budget, s.max_boxes)
        skipped = len(boxes) - len(chosen)
        boxes = [boxes[i] for i in chosen]
        crops = [_crop(m, bgr, box) for box in boxes]
        if m.classifier is not None:
            crops, _, _ = m.classifier(crops)
        recognised = _recognise(m, crops, s)
        lines = [
            OcrLine(text, _as_points(box), score)
            for box, (text, score) in zip(boxes, recognised, strict=True)
            if score >= s.min_confidence and text.strip()
        ]
        return lines, skipped

    def _detect(self, m: _Models, bgr: NDArray[Any]) -> list[NDArray[Any]]:
        height, width = bgr.shape[:2]
        det_w, det_h = _det_size(width, height, self.settings.det_pixels)
        small = m.cv2.resize(bgr, (det_w, det_h), interpolation=m.cv2.INTER_AREA)
        blob = (small.astype(np.float32) * (2 / 255) - 1).transpose(2, 0, 1)[np.newaxis]
        (pred,) = m.det_session.run(None, {m.det_input: blob})[:1]
        found, _scores = m.det_post(pred, (height, width))
        boxes = []
        for raw in found:
            box = _order_clockwise(raw.astype(np.float32))
            box[:, 0] = np.clip(box[:, 0], 0, width - 1)
            box[:, 1] = np.clip(box[:, 1], 0, height - 1)
            if np.linalg.norm(box[0] - box[1]) > 3 and np.linalg.norm(box[0] - box[3]) > 3:
                boxes.append(box)
        return boxes


def _det_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The detector's input size: at most ``max_pixels``, never upscaled, multiples of 32.

    Detection time grows with its input's area, so the area is what is capped:
    with the default a 1080x1920 screenshot is detected at 416x736 (24 px
    text still found), a 1280x960 photo at 640x480, and a scrolling
    screenshot at the same cost with smaller text.
    """
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    return max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32)


def _rec_width(shape: tuple[int, ...], squeeze: float) -> int:
    """A crop's width once scaled to the recognition height and squeezed."""
    height, width = shape[:2]
    return max(REC_HEIGHT // 2, math.ceil(REC_HEIGHT * width / height * squeeze))


def _within_budget(
    shapes: Sequence[tuple[int, int]], squeeze: float, budget: int, max_boxes: int
) -> list[int]:
    """Indexes of the crops to read (of these heights and widths), in reading order.

    Recognition time grows with the crops' summed width, so that is what the
    budget caps. Taller text is chosen first (the biggest text on a poster or
    a screenshot is its message), then top to bottom.
    """
    widths = [_rec_width(shape, squeeze) for shape in shapes]
    if len(shapes) <= max_boxes and sum(widths) <= budget:
        return list(range(len(shapes)))
    by_size = sorted(range(len(shapes)), key=lambda i: -shapes[i][0])
    chosen: list[int] = []
    spent = 0
    for i in by_size:
        if spent + widths[i] <= budget:
            chosen.append(i)
            spent += widths[i]
            if len(chosen) == max_boxes:
                break
    return sorted(chosen)


def _recognise(
    m: _Models, crops: Sequence[NDArray[Any]], s: OcrSettings
) -> list[tuple[str, float]]:
    """CTC recognition of each crop, ``rec_batch`` crops of similar width per call."""
    cv2 = m.cv2
    widths = [_rec_width(c.shape, s.rec_squeeze) for c in crops]
    order = sorted(range(len(crops)), key=widths.__getitem__)
    results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    for start in range(0, len(order), s.rec_batch):
        group = order[start : start + s.rec_batch]
        batch = np.zeros((len(group), 3, REC_HEIGHT, widths[group[-1]]), dtype=np.float32)
        for row, i in enumerate(group):
            resized = cv2.resize(crops[i], (widths[i], REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
            batch[row, :, :, : widths[i]] = resized.transpose(2, 0, 1) * (2 / 255) - 1
        (probs,) = m.rec_session.run(None, {m.rec_input: batch})[:1]
        for i, (text, score, *_rest) in zip(group, m.rec_decode(probs), strict=True):
            results[i] = (str(text), float(score))
    return results


def join_lines(lines: Sequence[OcrLine]) -> str:
    """Rows of boxes (already in reading order) as text: a space within a row, a newline between."""
    rows: list[list[str]] = []
    last: OcrLine | None = None
    for line in lines:
        if last is not None and _same_row(last.box, line.box):
            rows[-1].append(line.text)
        else:
            rows.append([line.text])
        last = line
    return "\n".join(" ".join(row) for row in rows)


def reading_order(boxes: list[NDArray[Any]]) -> list[NDArray[Any]]:
    """Top to bottom; boxes whose vertical extents mostly overlap form a row, read left to right."""
    by_top = sorted(boxes, key=lambda b: (float(b[:, 1].min()), float(b[:, 0].min())))
    rows: list[list[NDArray[Any]]] = []
    for box in by_top:
        if rows and _overlaps_row(rows[-1], box):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: float(b[:, 0].min()))]


def _overlaps_row(row: list[NDArray[Any]], box: NDArray[Any]) -> bool:
    top, bottom = float(box[:, 1].min()), float(box[:, 1].max())
    row_top = min(float(b[:, 1].min()) for b in row)
    row_bottom = max(float(b[:, 1].max()) for b in row)
    overlap = min(bottom, row_bottom) - max(top, row_top)
    return overlap > 0.5 * min(bottom - top, row_bottom - row_top)


def _same_row(a: tuple[Point, ...], b: tuple[Point, ...]) -> bool:
    a_top, a_bottom = min(p[1] for p in a), max(p[1] for p in a)
    b_top, b_bottom = min(p[1] for p in b), max(p[1] for p in b)
    overlap = min(a_bottom, b_bottom) - max(a_top, b_top)
    return overlap > 0.5 * min(a_bottom - a_top, b_bottom - b_top)


def _box_area(box: NDArray[Any]) -> float:
    return float(math.dist(tuple(box[0]), tuple(box[1])) * math.dist(tuple(box[0]), tuple(box[3])))


def _as_points(box: NDArray[Any]) -> tuple[Point, Point, Point, Point]:
    p = [(round(float(x)), round(float(y))) for x, y in box]
    return (p[0], p[1], p[2], p[3])


def _order_clockwise(pts: NDArray[Any]) -> NDArray[Any]:
    by_x = pts[np.argsort(pts[:, 0]), :]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _box_size(box: NDArray[Any]) -> tuple[int, int]:
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    return max(width, 1), max(height, 1)


def _crop_shape(box: NDArray[Any]) -> tuple[int, int]:
    """Height and width of the box's crop as ``_crop`` cuts it (vertical text turned)."""
    width, height = _box_size(box)
    return (width, height) if height >= 1.5 * width else (height, width)


def _crop(m: _Models, bgr: NDArray[Any], box: NDArray[Any]) -> NDArray[Any]:
    """The box cut out of the full-size picture and straightened (vertical text turned)."""
    cv2 = m.cv2
    width, height = _box_size(box)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(
        bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if height >= 1.5 * width:
        crop = np.rot90(crop)
    return crop


def _to_bgr(image: Image.Image | NDArray[Any], cv2: Any) -> NDArray[Any]:
    """Contiguous uint8 BGR pixels; transparency is laid over white (stickers)."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"pixels must be uint8, not {array.dtype}")
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError(f"expected an RGB or RGBA array, got shape {array.shape}")
        if array.shape[2] == 4:
            alpha = array[:, :, 3:4].astype(np.float32) / 255
            array = (array[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        rgb = array
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ValueError(f"picture too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)


def _import(name: str) -> Any:
    """importlib.import_module, named so that tests can make an import fail."""
    return importlib.import_module(name)


def _load_models(settings: OcrSettings) -> _Models | OcrFailure:
    try:
        cv2 = _import("cv2")
        ort = _import("onnxruntime")
        det_mod = _import(f"{BACKEND}.ch_ppocr_det.utils")
        rec_mod = _import(f"{BACKEND}.ch_ppocr_rec.utils")
        cls_mod = _import(f"{BACKEND}.ch_ppocr_cls")
        utils = _import(f"{BACKEND}.utils")
    except ImportError as exc:
        return OcrFailure(FailureKind.NOT_INSTALLED, _import_hint(exc))
    except OSError as exc:  # a shared library the wheels link against
        return OcrFailure(FailureKind.NOT_INSTALLED, _import_hint(exc))
    try:
        # OpenCV's own thread pool is process-wide; its resizes and warps follow the
        # OCR thread count so that one OCR worker stays on one core.
        cv2.setNumThreads(settings.threads)
        package = Path(_import(BACKEND).__file__ or ".").parent
        config = utils.read_yaml(package / "config.yaml")
        models = settings.models_dir or package / "models"
        for part in ("Det", "Rec", "Cls"):
            config[part]["model_path"] = str(models / Path(config[part]["model_path"]).name)
            config[part]["intra_op_num_threads"] = settings.threads
            config[part]["inter_op_num_threads"] = 1
        config["Cls"]["cls_batch_num"] = settings.rec_batch
        det = config["Det"]
        det_session = _session(ort, det["model_path"], settings.threads)
        rec_session = _session(ort, config["Rec"]["model_path"], settings.threads)
        characters = rec_session.get_modelmeta().custom_metadata_map["character"].splitlines()
        rec_decode = rec_mod.CTCLabelDecode(character=characters)
        det_post = det_mod.DBPostProcess(
            thresh=det["thresh"],
            box_thresh=settings.box_threshold,
            max_candidates=det["max_candidates"],
            unclip_ratio=det["unclip_ratio"],
            score_mode=det["score_mode"],
            use_dilation=det["use_dilation"],
        )
        classifier = cls_mod.TextClassifier(config["Cls"]) if settings.use_angle_cls else None
    except Exception as exc:  # missing or corrupt model files, onnxruntime errors
        return OcrFailure(
            FailureKind.LOAD_FAILED,
            f"OCR models could not be loaded ({type(exc).__name__}: {_first_line(exc)})",
        )
    return _Models(
        det_session,
        det_session.get_inputs()[0].name,
        det_post,
        rec_session,
        rec_session.get_inputs()[0].name,
        rec_decode,
        classifier,
        cv2,
    )


def _session(ort: Any, path: str, threads: int) -> Any:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no model file at {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _import_hint(exc: BaseException) -> str:
    text = _first_line(exc)
    if "libGL" in text or "libgthread" in text or "libglib" in text:
        return (
            f"OCR needs OpenCV, which could not load a system library ({text}); "
            "install Debian's libgl1 (apt-get install libgl1)"
        )
    missing = getattr(exc, "name", None) or text
    return f"OCR is not installed ({missing}); install rapidocr-onnxruntime (see pyproject.toml)"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

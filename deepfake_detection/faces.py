"""Face detection behind a small interface, tracking over a clip, and the square face crop.

The default detector is dlib's HOG frontal-face detector: it ships inside the `dlib-bin` wheel, so it
works offline. Detection runs only on a few key frames of a clip; boxes are associated across them into
tracks, interpolated to every frame and smoothed, because a crop that jitters from frame to frame looks
like a temporal artefact to a video model and causes false positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Box:
    """An axis-aligned face box in frame pixels."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


class FaceDetector(Protocol):
    """Anything that finds faces in one RGB frame; swap in RetinaFace or MTCNN where weights exist."""

    name: str

    def detect(self, frame: np.ndarray) -> list[Box]: ...


@lru_cache(maxsize=1)
def _dlib_hog():
    """dlib builds its HOG pyramid model in ~0.7 s: build it once per process."""
    import dlib

    return dlib.get_frontal_face_detector()


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector.

    Frames are rescaled so the longer side is `detect_max_side` pixels: large FF++ frames become cheap and
    small ones (176x144 phone video) large enough for HOG's ~80 px minimum face. When nothing is found the
    frame is retried with one pyramid upsample, which finds faces down to ~40 px at four times the cost.
    """

    name = "dlib_hog"

    def __init__(self, detect_max_side: int = 640, min_score: float = 0.0) -> None:
        self._detector = _dlib_hog()
        self.detect_max_side = detect_max_side
        self.min_score = min_score

    def detect(self, frame: np.ndarray) -> list[Box]:
        h, w = frame.shape[:2]
        scale = self.detect_max_side / max(h, w)
        small = frame
        if abs(scale - 1.0) > 1e-3:
            small = np.asarray(Image.fromarray(frame).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
        small = np.ascontiguousarray(small)
        for upsample in (0, 1):
            rects, scores, _ = self._detector.run(small, upsample, self.min_score)
            if len(rects):
                break
        boxes = [
            Box(
                x0=max(0.0, r.left() / scale),
                y0=max(0.0, r.top() / scale),
                x1=min(float(w), (r.right() + 1) / scale),
                y1=min(float(h), (r.bottom() + 1) / scale),
                score=float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        return [b for b in boxes if b.width > 1 and b.height > 1]


@dataclass
class FaceTrack:
    """One face followed through a clip: a smoothed box for every frame of the clip."""

    boxes: list[Box]
    hits: int
    keyframes: int
    detections: dict[int, Box] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.keyframes if self.keyframes else 0.0

    @property
    def face_size(self) -> float:
        """Median side of the detected face box in pixels (a drift feature and a quality signal)."""
        return float(np.median([max(b.width, b.height) for b in self.detections.values()]))


def track_faces(
    detections: dict[int, list[Box]],
    num_frames: int,
    max_faces: int = 1,
    min_hit_rate: float = 0.5,
    iou_threshold: float = 0.2,
    smooth_window: int = 5,
) -> list[FaceTrack]:
    """Link per-keyframe detections into tracks and give each track a box in all `num_frames` frames.

    `detections` maps a frame position inside the clip (0..num_frames-1) to the boxes found there.
    Association is greedy by IoU between consecutive key frames, which is enough within a sub-second clip.
    Tracks seen in fewer than `min_hit_rate` of the key frames are dropped as spurious; the rest are
    ordered largest first and at most `max_faces` are kept.
    """
    keyframes = sorted(detections)
    tracks: list[dict[int, Box]] = []
    for pos in keyframes:
        unmatched = sorted(detections[pos], key=lambda b: -b.area)
        for track in tracks:
            last = track[max(track)]
            if not unmatched:
                break
            best = max(unmatched, key=last.iou)
            if last.iou(best) >= iou_threshold:
                track[pos] = best
                unmatched.remove(best)
        tracks.extend({pos: box} for box in unmatched)

    kept = [t for t in tracks if keyframes and len(t) / len(keyframes) >= min_hit_rate]
    kept.sort(key=lambda t: -float(np.mean([b.area for b in t.values()])))
    return [
        FaceTrack(
            boxes=_interpolate_and_smooth(t, num_frames, smooth_window),
            hits=len(t),
            keyframes=len(keyframes),
            detections=dict(t),
        )
        for t in kept[:max_faces]
    ]


def _interpolate_and_smooth(track: dict[int, Box], num_frames: int, window: int) -> list[Box]:
    """Centres interpolated linearly and smoothed with a moving average; one size for the whole clip.

    A constant crop size over 16 frames removes zoom jitter entirely; the centre follows head motion.
    """
    pos = np.array(sorted(track), dtype=float)
    cx = np.array([track[int(p)].center[0] for p in pos])
    cy = np.array([track[int(p)].center[1] for p in pos])
    frames = np.arange(num_frames, dtype=float)
    cx_all = _moving_average(np.interp(frames, pos, cx), window)
    cy_all = _moving_average(np.interp(frames, pos, cy), window)
    half_w = float(np.median([b.width for b in track.values()])) / 2
    half_h = float(np.median([b.height for b in track.values()])) / 2
    score = float(np.mean([b.score for b in track.values()]))
    return [Box(x - half_w, y - half_h, x + half_w, y + half_h, score) for x, y in zip(cx_all, cy_all, strict=True)]


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 2:
        return values
    pad = window // 2
    padded = np.pad(values, pad, mode="edge")
    return np.convolve(padded, np.ones(window) / window, mode="valid")[: len(values)]


def square_crop_box(box: Box, frame_width: int, frame_height: int, margin: float = 1.3) -> tuple[int, int, int, int]:
    """The square region around a face, `margin` times its longer side, shifted to lie inside the frame.

    Shifting (rather than padding with black) keeps every crop pixel real; a face larger than the frame
    gets the largest square the frame allows.
    """
    side = min(max(box.width, box.height) * margin, frame_width, frame_height)
    cx, cy = box.center
    x0 = min(max(cx - side / 2, 0.0), frame_width - side)
    y0 = min(max(cy - side / 2, 0.0), frame_height - side)
    side_i = max(1, round(side))
    x0_i = round(min(max(x0, 0), frame_width - side_i))
    y0_i = round(min(max(y0, 0), frame_height - side_i))
    return x0_i, y0_i, x0_i + side_i, y0_i + side_i


def crop_faces(frames: np.ndarray, boxes: list[Box], size: int = 224, margin: float = 1.3) -> np.ndarray:
    """Crop each frame around its box and resize to `size` x `size`: uint8 (N, size, size, 3)."""
    h, w = frames.shape[1:3]
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        region = square_crop_box(box, w, h, margin)
        out[i] = np.asarray(Image.fromarray(frame).crop(region).resize((size, size), Image.BILINEAR))
    return out

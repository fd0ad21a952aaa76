"""Face tracks inside one clip: detections on key frames linked by IoU, interpolated and smoothed.

Detection runs only on a few key frames of a clip; boxes are associated across them into tracks,
interpolated to every frame and smoothed, because a crop that jitters from frame to frame looks like a
temporal artefact to a video model and causes false positives. Linking tracks of different clips into the
persons of a video is `faces.persons`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepfake_detection.faces.boxes import Box


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
    max_faces: int | None = 1,
    min_hit_rate: float = 0.5,
    iou_threshold: float = 0.2,
    smooth_window: int = 5,
) -> list[FaceTrack]:
    """Link per-keyframe detections into tracks and give each track a box in all `num_frames` frames.

    `detections` maps a frame position inside the clip (0..num_frames-1) to the boxes found there.
    Association is greedy by IoU between consecutive key frames, which is enough within a sub-second clip.
    Tracks seen in fewer than `min_hit_rate` of the key frames are dropped as spurious; the rest are
    ordered largest first and at most `max_faces` are kept (None: all).
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

"""Cut face clips from a video: where clips start, which frames to detect on, and the crops.

This is the one preprocessing path: training data and served requests both go through
`extract_clips`, so the model sees in production exactly what it saw in training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepfake_detection.config import ClipParams
from deepfake_detection.faces import DlibHogDetector, FaceDetector, crop_faces, square_crop_box, track_faces
from deepfake_detection.video import FrameReader, VideoError


@dataclass
class Clip:
    """One face track over one clip window, cropped to uint8 (clip_len, size, size, 3)."""

    clip_index: int
    face_index: int
    start_frame: int
    frame_indices: list[int]
    crop_boxes: list[tuple[int, int, int, int]]
    face_size: float
    hit_rate: float
    start_s: float
    end_s: float
    pixels: np.ndarray


@dataclass(frozen=True)
class ClipFailure:
    """A clip window (or a whole video, `clip_index` None) that produced no clip, and why."""

    clip_index: int | None
    stage: str
    reason: str


def make_detector(params: ClipParams) -> FaceDetector:
    """The detector named in the clip parameters."""
    if params.detector == "dlib_hog":
        return DlibHogDetector(detect_max_side=params.detect_max_side)
    raise ValueError(f"unknown face detector {params.detector!r}; available: dlib_hog")


def clip_span(params: ClipParams) -> int:
    """Frames from the first to the last frame of one clip, inclusive."""
    return (params.clip_len - 1) * params.stride + 1


def plan_clip_starts(num_frames: int, params: ClipParams) -> list[int]:
    """First frames of up to `clips_per_video` clips spread evenly over the video; [] if it is too short."""
    span = clip_span(params)
    if num_frames < span:
        return []
    starts = np.linspace(0, num_frames - span, params.clips_per_video).round().astype(int)
    return sorted(set(int(s) for s in starts))


def keyframe_positions(params: ClipParams) -> list[int]:
    """Positions inside a clip where the detector runs: every `detect_every`-th frame, and the last."""
    positions = list(range(0, params.clip_len, params.detect_every))
    if positions[-1] != params.clip_len - 1:
        positions.append(params.clip_len - 1)
    return positions


def extract_clips(
    reader: FrameReader,
    params: ClipParams,
    detector: FaceDetector,
    before_each_clip: Callable[[], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[list[Clip], list[ClipFailure]]:
    """All clips of one opened video: a list of clips and a list of the windows that gave none.

    A video shorter than one clip, or a window without a face, is reported, never padded with black.
    `before_each_clip` may raise to stop early (the service's deadline). `timings` (when given) accumulates
    seconds spent decoding frames (`decode_s`) and finding, tracking and cropping faces (`faces_s`).
    """
    timings = timings if timings is not None else {}
    timings.setdefault("decode_s", 0.0)
    timings.setdefault("faces_s", 0.0)
    starts = plan_clip_starts(reader.num_frames, params)
    if not starts:
        reason = f"too short: {reader.num_frames} frames, a clip needs {clip_span(params)}"
        return [], [ClipFailure(None, "plan", reason)]
    clips: list[Clip] = []
    failures: list[ClipFailure] = []
    keys = keyframe_positions(params)
    for clip_index, start in enumerate(starts):
        if before_each_clip is not None:
            before_each_clip()
        indices = [start + i * params.stride for i in range(params.clip_len)]
        t0 = time.monotonic()
        try:
            frames = reader.get(indices)
        except VideoError as exc:
            failures.append(ClipFailure(clip_index, "decode", str(exc)))
            continue
        finally:
            timings["decode_s"] += time.monotonic() - t0
        t0 = time.monotonic()
        detections = {pos: detector.detect(frames[pos]) for pos in keys}
        tracks = track_faces(detections, params.clip_len, params.max_faces, params.min_hit_rate)
        if not tracks:
            seen = sum(1 for boxes in detections.values() if boxes)
            failures.append(ClipFailure(clip_index, "faces", f"no face: detected on {seen} of {len(keys)} key frames"))
            timings["faces_s"] += time.monotonic() - t0
            continue
        h, w = frames.shape[1:3]
        for face_index, track in enumerate(tracks):
            clips.append(
                Clip(
                    clip_index=clip_index,
                    face_index=face_index,
                    start_frame=start,
                    frame_indices=indices,
                    crop_boxes=[square_crop_box(b, w, h, params.margin) for b in track.boxes],
                    face_size=track.face_size,
                    hit_rate=track.hit_rate,
                    start_s=reader.frame_time_s(indices[0]),
                    end_s=reader.frame_time_s(indices[-1]) + (1.0 / reader.fps if reader.fps > 0 else 0.0),
                    pixels=crop_faces(frames, track.boxes, params.size, params.margin),
                )
            )
        timings["faces_s"] += time.monotonic() - t0
    return clips, failures


def boxes_bounds(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The smallest box containing all crop boxes of a clip (what the contract checks against the frame)."""
    arr = np.asarray(boxes)
    return int(arr[:, 0].min()), int(arr[:, 1].min()), int(arr[:, 2].max()), int(arr[:, 3].max())

"""Cut face clips from a video: where clips start, which frames to detect on, the persons and the crops.

This is the one preprocessing path: training data and served requests both go through `extract_clips`, so
the model sees in production exactly what it saw in training. Frames come upright from `media.reader`;
faces are found at a working resolution chosen per video (`faces.detectors.working_scale`), tracked inside
each clip window (`faces.tracking`) and linked across windows into persons (`faces.persons`), so
`Clip.face_index` is the person's id over the whole video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepfake_detection.config import ClipParams, FaceParams
from deepfake_detection.faces import detectors
from deepfake_detection.faces.crops import crop_faces, square_crop_box
from deepfake_detection.faces.detectors import FaceDetector, detect_keyframes, working_scale
from deepfake_detection.faces.persons import TrackObservation, link_persons
from deepfake_detection.faces.tracking import FaceTrack, track_faces
from deepfake_detection.media.probe import VideoError
from deepfake_detection.media.reader import VideoReader


@dataclass
class Clip:
    """One person's face over one clip window, cropped to uint8 (clip_len, size, size, 3).

    `face_index` is the person id over the whole video (0 = the person seen in most windows); `crop_boxes`
    are (x0, y0, x1, y1) in upright frame pixels, one per frame; times are seconds from the first frame.
    """

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
    """A clip window (or a whole video, `clip_index` None) that produced no clip, or a face left out, and why."""

    clip_index: int | None
    stage: str
    reason: str


def make_detector(faces: FaceParams) -> FaceDetector:
    """The detector the face settings name."""
    return detectors.make_detector(faces.detector, faces.min_score)


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
    positions = list(range(0, params.clip_len, params.faces.detect_every))
    if positions[-1] != params.clip_len - 1:
        positions.append(params.clip_len - 1)
    return positions


def extract_clips(
    reader: VideoReader,
    params: ClipParams,
    detector: FaceDetector,
    before_each_clip: Callable[[], None] | None = None,
    timings: dict[str, float] | None = None,
    on_window: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[list[Clip], list[ClipFailure]]:
    """All clips of one opened video: a list of clips and a list of the windows (or faces) that gave none.

    A video shorter than one clip, a window without a face and a face smaller than `faces.min_face_px` are
    reported, never padded or dropped silently. `before_each_clip` may raise to stop early (the service's
    deadline). `timings` (when given) accumulates seconds spent decoding frames (`decode_s`) and finding,
    tracking, linking and cropping faces (`faces_s`). `on_window(start_frame, frames)` sees each window's
    decoded upright frames (N, H, W, 3) once, so other measurements need no second decode.
    """
    timings = timings if timings is not None else {}
    timings.setdefault("decode_s", 0.0)
    timings.setdefault("faces_s", 0.0)
    starts = plan_clip_starts(reader.num_frames, params)
    if not starts:
        reason = f"too short: {reader.num_frames} frames, a clip needs {clip_span(params)}"
        return [], [ClipFailure(None, "plan", reason)]
    faces = params.faces
    scale = working_scale(reader.info.height, reader.info.width, detector.min_face_px, faces.min_face_px,
                          faces.base_side)  # fmt: skip
    clips: list[Clip] = []
    observations: list[TrackObservation] = []
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
        if on_window is not None:
            on_window(start, frames)
        t0 = time.monotonic()
        detections = detect_keyframes(detector, {pos: frames[pos] for pos in keys}, scale)
        tracks = track_faces(detections, params.clip_len, None, faces.min_hit_rate)
        large = [t for t in tracks if t.face_size >= faces.min_face_px]
        for track in tracks:
            if track.face_size < faces.min_face_px:
                reason = f"face too small: {track.face_size:.0f} px across, clips need {faces.min_face_px:.0f}"
                failures.append(ClipFailure(clip_index, "faces", reason))
        if not tracks:
            seen = sum(1 for boxes in detections.values() if boxes)
            failures.append(ClipFailure(clip_index, "faces", f"no face: detected on {seen} of {len(keys)} key frames"))
        h, w = frames.shape[1:3]
        for track in large[: faces.max_faces]:
            pixels = crop_faces(frames, track.boxes, params.size, params.margin)
            middle = _middle_keyframe(track)
            observations.append(
                TrackObservation.from_frame(
                    clip_index, frames[middle], track.detections[middle], track.face_size, pixels[middle]
                )
            )
            clips.append(
                Clip(
                    clip_index=clip_index,
                    face_index=-1,  # the person id, set once every window is seen
                    start_frame=start,
                    frame_indices=indices,
                    crop_boxes=[square_crop_box(b, w, h, params.margin) for b in track.boxes],
                    face_size=track.face_size,
                    hit_rate=track.hit_rate,
                    start_s=reader.time_s(indices[0]),
                    end_s=reader.end_time_s(indices[-1]),
                    pixels=pixels,
                )
            )
        timings["faces_s"] += time.monotonic() - t0
    t0 = time.monotonic()
    for clip, person in zip(clips, link_persons(observations), strict=True):
        clip.face_index = person
    timings["faces_s"] += time.monotonic() - t0
    return clips, failures


def _middle_keyframe(track: FaceTrack) -> int:
    """The key frame position, among those where this face was detected, closest to the clip's middle."""
    positions = sorted(track.detections)
    middle = (positions[0] + positions[-1]) / 2
    return min(positions, key=lambda p: abs(p - middle))


def boxes_bounds(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The smallest box containing all crop boxes of a clip (what the contract checks against the frame)."""
    arr = np.asarray(boxes)
    return int(arr[:, 0].min()), int(arr[:, 1].min()), int(arr[:, 2].max()), int(arr[:, 3].max())

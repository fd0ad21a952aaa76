"""Cut face clips from a video: where clips start, which frames to detect on, the persons and the crops.

This is the one preprocessing path: training data and served requests both go through `extract_clips`, so
the model sees in production exactly what it saw in training. Frames come upright from `media.reader`;
faces are found at a working resolution chosen per video (`faces.detectors.working_scale`), tracked inside
each clip window (`faces.tracking`) and linked across windows into persons (`faces.persons`), so
`Clip.face_index` is the person's id over the whole video.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from deepfake_detection.config import ClipParams, FaceParams
from deepfake_detection.faces import detectors
from deepfake_detection.faces.crops import crop_faces, square_crop_box
from deepfake_detection.faces.detectors import FaceDetector, detect_keyframes, working_scale
from deepfake_detection.faces.persons import TrackObservation, link_persons
from deepfake_detection.faces.tracking import FaceTrack, track_faces
from deepfake_detection.media.reader import VideoReader, Window


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
    """A clip window (or a whole video, `clip_index` None) that produced no clip, or a face left out, and why.

    `code`: a short reason (`no_face`, `face_too_small`, `over_cap`, `frames_lost` (the window moved past lost
    frames), `window_lost` (no window could be read there), `too_short`);
    `reason`: one sentence for a person (no path, no decoder text).
    """

    clip_index: int | None
    stage: str
    reason: str
    code: str = ""


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
    on_window: Callable[[Window], None] | None = None,
    stored: Collection[int] = (),
    ahead: int = 1,
) -> tuple[list[Clip], list[ClipFailure]]:
    """All clips of one opened video: a list of clips and a list of the windows (or faces) that gave none.

    Windows are read by the reader's decode plan; a window with a lost frame is moved forward past it
    (`VideoReader.windows`). A video shorter than one clip, a window without a face, a face smaller than
    `faces.min_face_px` and a face beyond the `faces.max_faces` largest of its window are reported (`face_counts`
    sums them up), never padded or dropped silently. `before_each_clip` may raise to stop early (the service's
    deadline). `timings` (when given) accumulates seconds spent waiting for frames and converting to RGB the
    parts looked at (`decode_s`: the detector's input, the face regions) and finding, tracking, linking and
    cropping faces (`faces_s`). The reader reads `ahead` windows ahead in its own thread while faces are found
    in the last one (0: in turns), so `decode_s` is what reading added to the time taken, not all the time the
    decoder ran. `on_window(window)` sees each window as read once, with the stored pictures of the indices in
    `stored`, so other measurements need no second decode.
    """
    timings = timings if timings is not None else {}
    timings.setdefault("decode_s", 0.0)
    timings.setdefault("faces_s", 0.0)
    starts = plan_clip_starts(reader.num_frames, params)
    if not starts:
        reason = f"the video is too short: {reader.num_frames} frames, a clip needs {clip_span(params)}"
        return [], [ClipFailure(None, "plan", reason, "too_short")]
    faces = params.faces
    shown = reader.scale  # frames are the displayed picture times `shown`; sizes and boxes are reported displayed
    frame_w, frame_h = reader.frame_size
    # min_face_px holds in the analysed picture, where crops are cut: a 4K video (analysed at 1920) is searched as a
    # 1920 one, not at 0.8 of 1920 for faces whose crops would be upscaled from under 64 px anyway
    scale = working_scale(frame_h, frame_w, detector.min_face_px, faces.min_face_px, faces.base_side)
    clips: list[Clip] = []
    observations: list[TrackObservation] = []
    failures: list[ClipFailure] = []
    keys = keyframe_positions(params)
    requested = [[s + i * params.stride for i in range(params.clip_len)] for s in starts]
    windows = reader.windows(requested, stored=stored, ahead=ahead)
    try:
        for clip_index in range(len(starts)):
            if before_each_clip is not None:
                before_each_clip()
            t0 = time.monotonic()
            window = next(windows)
            timings["decode_s"] += time.monotonic() - t0
            if window.lost:
                code = "frames_lost" if window.indices is not None else "window_lost"
                failures.append(ClipFailure(clip_index, "decode", _lost_sentence(reader, window), code))
            if window.indices is None:
                continue
            if on_window is not None:
                on_window(window)
            t0, converted = time.monotonic(), reader.convert_s
            frames, indices = window.frames, window.indices
            detections = detect_keyframes(detector, {pos: frames[pos] for pos in keys}, scale)
            tracks = track_faces(detections, params.clip_len, None, faces.min_hit_rate)
            large = [t for t in tracks if t.face_size >= faces.min_face_px]
            failures.extend(
                ClipFailure(clip_index, "faces", f"a face {t.face_size / shown:.0f} px across is smaller than the "
                            f"{faces.min_face_px:.0f} px a clip needs", "face_too_small")
                for t in tracks if t.face_size < faces.min_face_px
            )  # fmt: skip
            failures.extend(
                ClipFailure(clip_index, "faces", f"a face beyond the {faces.max_faces} largest of its clip window was "
                            "not analysed", "over_cap")
                for _ in large[faces.max_faces :]
            )  # fmt: skip
            if not tracks:
                seen = sum(1 for boxes in detections.values() if boxes)
                reason = f"no face: detected on {seen} of {len(keys)} key frames"
                failures.append(ClipFailure(clip_index, "faces", reason, "no_face"))
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
                        start_frame=indices[0],
                        frame_indices=indices,
                        crop_boxes=[
                            _displayed(square_crop_box(b, frame_w, frame_h, params.margin), shown, reader)
                            for b in track.boxes
                        ],
                        face_size=track.face_size / shown,
                        hit_rate=track.hit_rate,
                        start_s=reader.time_s(indices[0]),
                        end_s=reader.end_time_s(indices[-1]),
                        pixels=pixels,
                    )
                )
            converting = reader.convert_s - converted  # the parts of frames looked at, converted to RGB: reading
            timings["decode_s"] += converting
            timings["faces_s"] += time.monotonic() - t0 - converting
    finally:
        windows.close()  # a read ahead stops at once when a deadline ends the work early
    t0 = time.monotonic()
    for clip, person in zip(clips, link_persons(observations), strict=True):
        clip.face_index = person
    timings["faces_s"] += time.monotonic() - t0
    return clips, failures


def _displayed(box: tuple[int, int, int, int], shown: float, reader: VideoReader) -> tuple[int, int, int, int]:
    """A crop box in the analysed frame as pixels of the displayed picture (the same box when `shown` is 1)."""
    if shown == 1.0:
        return box
    w, h = reader.info.width, reader.info.height
    x0, y0, x1, y1 = (round(v / shown) for v in box)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _lost_sentence(reader: VideoReader, window: Window) -> str:
    when = f"{reader.time_s(window.lost[0]):.2f} s"
    n = len(window.lost)
    read = "read just after them" if window.indices is not None else "not analysed: no whole clip nearby decodes"
    return f"{n} frame{'s' if n > 1 else ''} near {when} could not be decoded (damaged data); the window was {read}"


@dataclass(frozen=True)
class FaceCounts:
    """How many faces a video showed and how many were analysed (what an answer says of its persons).

    `analysed`: persons with scored clips; `seen`: at least this many different people were seen (the larger
    of the persons analysed and the most faces found at once in a clip window); `too_small` and `over_cap`:
    the most faces in one window left out as smaller than a clip needs or beyond the per-window cap.
    """

    seen: int
    analysed: int
    too_small: int
    over_cap: int

    @classmethod
    def of(cls, clips: list[Clip], failures: list[ClipFailure]) -> FaceCounts:
        windows: dict[int, dict[str, int]] = {}
        for clip in clips:
            windows.setdefault(clip.clip_index, {}).setdefault("analysed", 0)
            windows[clip.clip_index]["analysed"] += 1
        for failure in failures:
            if failure.code in ("face_too_small", "over_cap") and failure.clip_index is not None:
                counts = windows.setdefault(failure.clip_index, {})
                counts[failure.code] = counts.get(failure.code, 0) + 1
        most = max((sum(c.values()) for c in windows.values()), default=0)
        analysed = len({c.face_index for c in clips})
        return cls(
            seen=max(analysed, most),
            analysed=analysed,
            too_small=max((c.get("face_too_small", 0) for c in windows.values()), default=0),
            over_cap=max((c.get("over_cap", 0) for c in windows.values()), default=0),
        )


def _middle_keyframe(track: FaceTrack) -> int:
    """The key frame position, among those where this face was detected, closest to the clip's middle."""
    positions = sorted(track.detections)
    middle = (positions[0] + positions[-1]) / 2
    return min(positions, key=lambda p: abs(p - middle))


def boxes_bounds(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The smallest box containing all crop boxes of a clip (what the contract checks against the frame)."""
    arr = np.asarray(boxes)
    return int(arr[:, 0].min()), int(arr[:, 1].min()), int(arr[:, 2].max()), int(arr[:, 3].max())

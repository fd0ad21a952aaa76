"""Video in, verdict out: the one path for batch scoring and the BentoML service.

It reuses the training preprocessing exactly: `video.probe` with limits, `clips.extract_clips` (decode, faces,
tracking, crops) and the detector's saved processor config. Face tracks are indexed by size within each clip
(0 = largest), the same convention as the clip table, and scored with the same video-level rule as
evaluation (mean over a face's clips, max over faces). A video with no usable face is `inconclusive`, never
`real`.
"""

from __future__ import annotations

import base64
import contextlib
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clips import Clip, extract_clips, make_detector
from deepfake_detection.evaluation.metrics import video_scores
from deepfake_detection.faces.detectors import FaceDetector
from deepfake_detection.media.probe import (
    NoVideoStream,
    UnsupportedCodec,
    VideoError,
    VideoInfo,
    VideoLimitError,
    VideoLimits,
)
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.monitoring.drift_features import drift_frame_indices, frame_quality, quality_columns


class ClipScorer(Protocol):
    """What scores clips: a `Detector` in process, or the service's batched BentoML API."""

    threshold: float

    def score(self, clips: np.ndarray) -> np.ndarray: ...

    def explain(self, clips: np.ndarray) -> np.ndarray: ...


@dataclass
class FaceResult:
    face_index: int
    p_fake: float
    face_size: float  # median face box side in pixels over its clips
    timeline: list[dict]  # one entry per clip: start_s, end_s, p_fake, crop box in the clip's middle frame
    # (x0, y0, x1, y1 in upright frame pixels), `boxes` per frame ([t_s, x0, y0, x1, y1]), and with explanation
    # `heatmap_png` (base64) and `heatmap` (h x w)
    thumbnail: np.ndarray | None = None  # the face crop of the middle frame of its first clip, uint8


@dataclass
class VideoVerdict:
    verdict: str  # "fake", "real" or "inconclusive"
    p_fake: float | None
    threshold: float
    faces: list[FaceResult]
    video: dict
    reasons: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    info: VideoInfo | None = None

    def as_dict(self, thumbnails: bool = False) -> dict:
        """JSON-ready; with `thumbnails`, each face carries a small base64 JPEG of its crop."""
        out = asdict(self)
        out.pop("info")
        for face, result in zip(out["faces"], self.faces, strict=True):
            face.pop("thumbnail", None)
            if thumbnails and result.thumbnail is not None:
                face["thumbnail_jpeg"] = jpeg_base64(result.thumbnail)
        return out


class AnalysisTimeout(Exception):
    """The analysis ran past its deadline; raised between clips so no work continues after a timeout."""


def classify_error(exc: BaseException) -> tuple[int, str] | None:
    """(HTTP status, reason) of a video that cannot be analysed, as the service answers and batch scoring
    records it; None for an exception that is a bug rather than a bad video."""
    for kind, status, reason in (
        (VideoLimitError, 422, "over_limit"),
        (NoVideoStream, 415, "no_video_stream"),
        (UnsupportedCodec, 415, "unsupported_codec"),
        (VideoError, 422, "unreadable"),
        (AnalysisTimeout, 504, "timeout"),
    ):
        if isinstance(exc, kind):
            return status, reason
    return None


def error_reason(exc: BaseException) -> str:
    """The reason a row records for a video that could not be analysed: the service's (e.g. `unreadable`), or
    `error: <type>` for an exception that is a bug rather than a bad video."""
    status = classify_error(exc)
    return status[1] if status else f"error: {type(exc).__name__}"


def jpeg_base64(image: np.ndarray, side: int = 112, quality: int = 85) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).resize((side, side)).save(buf, format="JPEG", quality=quality)
    return base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class ExtractedVideo:
    """Everything decoded from one video before the model sees it (picklable: it crosses processes)."""

    info: VideoInfo
    clips: list[Clip]
    reasons: list[str]
    timings: dict
    features: dict | None = None  # drift features, when asked for

    def pixels(self) -> np.ndarray | None:
        """The clips stacked for the model, uint8 (N, T, H, W, 3); None when there is no clip."""
        return np.stack([c.pixels for c in self.clips]) if self.clips else None


def extract_video(
    path: str | Path,
    params: ClipParams,
    limits: VideoLimits | None = None,
    face_detector: FaceDetector | None = None,
    time_budget_s: float | None = None,
    with_features: bool = False,
    threads: int = 0,
) -> ExtractedVideo:
    """Open the video (limits checked on the probe), cut the face clips; optionally measure the drift features.

    Every fact in the result (`info`, clip times and boxes, drift features) is of the one stream whose
    upright frames were analysed (`media.reader`).

    Raises `VideoError` for unusable files and `AnalysisTimeout` (checked before each clip) once
    `time_budget_s` is spent, so a slow upload stops consuming CPU when its request has timed out. `threads`:
    decoder threads (1 where one process per core runs, as on Ray).
    """
    t0 = time.monotonic()
    deadline = None if time_budget_s is None else t0 + time_budget_s
    with VideoReader(path, limits, threads=threads) as reader:
        t1 = time.monotonic()

        def check_deadline() -> None:
            if deadline is not None and time.monotonic() > deadline:
                raise AnalysisTimeout(f"analysis did not finish in {time_budget_s:.0f}s")

        timings = {"probe_s": t1 - t0, "features_s": 0.0} if with_features else {"probe_s": t1 - t0}
        wanted = set(drift_frame_indices(reader.num_frames, params)) if with_features else set()
        quality: dict[int, dict[str, float]] = {}

        def measure(start: int, frames: np.ndarray) -> None:
            """Frame quality of the drift frames among those decoded for clips: no second decode."""
            if start in wanted:
                t = time.monotonic()
                quality[start] = frame_quality(frames[:1])
                timings["features_s"] += time.monotonic() - t

        detector = face_detector or make_detector(params.faces)
        clips, failures = extract_clips(reader, params, detector, check_deadline, timings, measure)
        reasons = sorted({f.reason.split(":")[0] for f in failures})
        features = None
        if with_features:
            t = time.monotonic()
            for index in sorted(wanted - set(quality)):  # a window that failed to decode: try its first frame alone
                with contextlib.suppress(VideoError):  # an undecodable frame is left out, never fatal here
                    quality[index] = frame_quality(reader.get([index]))
            means = {k: float(np.nanmean([q[k] for q in quality.values()])) if quality else float("nan")
                     for k in ("blockiness", "sharpness")}  # fmt: skip
            main = [c.face_size for c in clips if c.face_index == 0]
            features = quality_columns(reader.info, float(np.median(main)) if main else None, means)
            timings["features_s"] += time.monotonic() - t
        info = reader.info
    return ExtractedVideo(info, clips, reasons, timings, features)


def decide(
    extracted: ExtractedVideo, scores: np.ndarray, threshold: float, relevance: np.ndarray | None = None
) -> VideoVerdict:
    """The verdict from the clip scores: mean over a face's clips, max over faces; no face: inconclusive.

    `relevance`: the clips' tubelet relevance (N, t, h, w) from `Detector.explain`, when asked for: each
    timeline entry then carries the time-averaged map (h x w, 2 decimals) and it drawn over the clip's middle
    face crop as a 112 px PNG (`modeling.explain.heatmap_png`).
    """
    clips, info = extracted.clips, extracted.info
    timings = dict(extracted.timings)
    if relevance is not None and len(relevance) != len(clips):
        raise ValueError(f"{len(relevance)} relevance maps for {len(clips)} clips")
    if not clips:
        reasons = extracted.reasons or ["no face"]
        return VideoVerdict("inconclusive", None, threshold, [], info.as_dict(), reasons, timings, info)
    table = pd.DataFrame({"video_id": "v", "face_index": [c.face_index for c in clips], "p_fake": scores, "is_fake": 0})
    p_video = float(video_scores(table).p_fake.iloc[0])
    faces = []
    for face_index in sorted({c.face_index for c in clips}):
        own = [i for i, c in enumerate(clips) if c.face_index == face_index]  # this person's clips, in time order
        first = clips[own[0]]
        faces.append(
            FaceResult(
                face_index=face_index,
                p_fake=float(np.mean([float(scores[i]) for i in own])),
                face_size=float(np.median([clips[i].face_size for i in own])),
                timeline=[
                    _timeline_entry(clips[i], float(scores[i]), None if relevance is None else relevance[i])
                    for i in own
                ],
                thumbnail=first.pixels[len(first.pixels) // 2],
            )
        )
    verdict = "fake" if p_video >= threshold else "real"
    return VideoVerdict(verdict, p_video, threshold, faces, info.as_dict(), extracted.reasons, timings, info)


def _within(t: float, low: float, high: float) -> float:
    """A rounded time kept inside its clip window (rounding must not move a box out of its clip)."""
    return min(max(t, low), high)


def _timeline_entry(clip: Clip, p_fake: float, relevance: np.ndarray | None) -> dict:
    middle = len(clip.crop_boxes) // 2
    # end_s is when the last frame stops showing: frames are (end_s - start_s) / (last - first + 1) apart
    step = (clip.end_s - clip.start_s) / (clip.frame_indices[-1] - clip.frame_indices[0] + 1)
    entry = {
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "p_fake": p_fake,
        "box": list(clip.crop_boxes[middle]),
        # every frame's crop box with its time, so a player can draw the box in sync with the video
        "boxes": [[_within(round(clip.start_s + (i - clip.frame_indices[0]) * step, 4), clip.start_s, clip.end_s),
                   *map(int, box)] for i, box in zip(clip.frame_indices, clip.crop_boxes, strict=True)],
    }  # fmt: skip
    if relevance is not None:
        from deepfake_detection.modeling.explain import heatmap_png

        heat = relevance.mean(axis=0)
        heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
        entry["heatmap"] = np.round(heat, 2).tolist()
        entry["heatmap_png"] = heatmap_png(clip.pixels[len(clip.pixels) // 2], heat)
    return entry


def analyze_video(
    path: str | Path,
    scorer: ClipScorer,
    params: ClipParams,
    limits: VideoLimits | None = None,
    face_detector: FaceDetector | None = None,
    explain: bool = False,
) -> VideoVerdict:
    """Extract, score and decide in this process (batch scoring, the command line, notebooks, tests).

    `explain`: also compute each clip's heatmap (`Detector.explain`; one more forward pass per clip).
    """
    extracted = extract_video(path, params, limits, face_detector)
    t0 = time.monotonic()
    pixels = extracted.pixels()
    scores = np.asarray(scorer.score(pixels)) if pixels is not None else np.zeros(0)
    extracted.timings["model_s"] = time.monotonic() - t0
    relevance = None
    if explain and pixels is not None:
        t0 = time.monotonic()
        relevance = np.asarray(scorer.explain(pixels))
        extracted.timings["explain_s"] = time.monotonic() - t0
    return decide(extracted, scores, scorer.threshold, relevance)

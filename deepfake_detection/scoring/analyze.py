"""Video in, answer out: extract -> score -> decide, the one path for the service, the CLI and batch scoring.

It reuses the training preprocessing exactly: `media.reader` (the frames a viewer sees, by a decode plan),
`clips.extract_clips` (faces, tracking, persons, crops) and the detector's saved processor config. Clips are
scored with the same video-level rule as evaluation (mean over a person's clips, max over persons). A video
with no usable face is `inconclusive`, never `real`. `decide` is the one builder of the typed answer
(`scoring.answer`); callers score the clips their own way (in process, through BentoML, on a Ray actor).
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clips import Clip, ClipFailure, FaceCounts, extract_clips, make_detector, plan_clip_starts
from deepfake_detection.evidence import Evidence, assess, read_provenance
from deepfake_detection.evidence.bundle import DemuxEvidence
from deepfake_detection.faces.detectors import FaceDetector
from deepfake_detection.media.probe import (
    NotAVideo,
    NoVideoStream,
    UnsupportedCodec,
    VideoError,
    VideoInfo,
    VideoLimitError,
    VideoLimits,
)
from deepfake_detection.media.reader import DecodeStats, VideoReader, Window
from deepfake_detection.metrics.video_rule import video_scores
from deepfake_detection.monitoring.drift_features import (
    drift_frame_indices,
    frame_quality,
    nan_mean,
    quality_columns,
)
from deepfake_detection.scoring.answer import Answer, Person, PersonCounts, Reason, Scalar, TimelineEntry, VideoFacts


class ClipScorer(Protocol):
    """What scores clips: a `Detector` in process, or the service's batched BentoML API."""

    threshold: float

    def score(self, clips: np.ndarray) -> np.ndarray: ...

    def explain(self, clips: np.ndarray) -> np.ndarray: ...


class AnalysisTimeout(Exception):
    """The analysis ran past its deadline; raised between clips so no work continues after a timeout."""


def classify_error(exc: BaseException) -> tuple[int, str] | None:
    """(HTTP status, reason code) of a video that cannot be analysed, as the service answers and batch scoring
    records it; None for an exception that is a bug rather than a bad video."""
    kinds = ((VideoLimitError, 422), (NotAVideo, 415), (NoVideoStream, 415), (UnsupportedCodec, 415), (VideoError, 422))
    for kind, status in kinds:
        if isinstance(exc, kind):
            return status, exc.code
    if isinstance(exc, AnalysisTimeout):
        return 504, "timeout"
    return None


def error_reason(exc: BaseException) -> str:
    """The reason code a row records for a video that could not be analysed: the service's (e.g. `unreadable`),
    or `error: <type>` for an exception that is a bug rather than a bad video."""
    status = classify_error(exc)
    return status[1] if status else f"error: {type(exc).__name__}"


def error_message(exc: BaseException) -> str:
    """The sentence an answer gives for a video that could not be analysed: never a path or decoder text."""
    if isinstance(exc, VideoError):
        return exc.message
    if isinstance(exc, AnalysisTimeout):
        return str(exc)
    return f"the analysis failed ({type(exc).__name__}); the error is in the log"


def jpeg_base64(image: np.ndarray, side: int = 112, quality: int = 85) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).resize((side, side)).save(buf, format="JPEG", quality=quality)
    return base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class ExtractedVideo:
    """Everything decoded from one video before the model sees it (picklable: it crosses processes).

    `windows`: clip windows planned; `max_faces`: the per-window cap the faces were counted against.
    """

    info: VideoInfo
    clips: list[Clip]
    failures: list[ClipFailure]
    stats: DecodeStats
    windows: int
    max_faces: int
    timings: dict = field(default_factory=dict)
    features: dict | None = None  # drift features, when asked for
    evidence: Evidence | None = None  # the file's own evidence (credentials, container, audio), when asked for

    def pixels(self) -> np.ndarray | None:
        """The clips stacked for the model, uint8 (N, T, H, W, 3); None when there is no clip."""
        return np.stack([c.pixels for c in self.clips]) if self.clips else None

    @property
    def counts(self) -> FaceCounts:
        return FaceCounts.of(self.clips, self.failures)


def extract_video(
    path: str | Path,
    params: ClipParams,
    limits: VideoLimits | None = None,
    face_detector: FaceDetector | None = None,
    time_budget_s: float | None = None,
    with_features: bool = False,
    threads: int = 0,
    with_evidence: bool = False,
    ahead: int = 1,
) -> ExtractedVideo:
    """Open the video (limits checked on the probe), cut the face clips; optionally measure the drift features
    and read the file's evidence (`evidence`: container facts and audio from the probe's own demux pass, the
    Content Credentials by the C2PA SDK; no second read of the frames).

    Every fact in the result (`info`, clip times and boxes, drift features) is of the one stream whose
    upright frames were analysed (`media.reader`); the drift features' frame quality is measured on frames
    read for clips anyway (no second decode).

    Raises `VideoError` for unusable files and `AnalysisTimeout` (checked before each clip) once
    `time_budget_s` is spent, so a slow upload stops consuming CPU when its request has timed out. `threads`:
    decoder threads (1 where one process per core runs, as on Ray). `ahead`: windows decoded ahead while faces
    are found (`extract_clips`; 0: in turns, the same clips).
    """
    t0 = time.monotonic()
    deadline = None if time_budget_s is None else t0 + time_budget_s
    gathered = DemuxEvidence() if with_evidence else None
    with VideoReader(path, limits, threads=threads, listener=gathered) as reader:
        timings = {"probe_s": time.monotonic() - t0}
        evidence = None
        if gathered is not None:
            t = time.monotonic()
            evidence = Evidence(provenance=read_provenance(path), container=gathered.container,
                                audio=gathered.audio(reader.info.duration_s, reader.info.start_s))  # fmt: skip
            timings["evidence_s"] = time.monotonic() - t

        def check_deadline() -> None:
            if deadline is not None and time.monotonic() > deadline:
                raise AnalysisTimeout(f"the analysis did not finish in {time_budget_s:.3g} s")

        wanted = set(drift_frame_indices(reader.num_frames, params)) if with_features else set()
        quality: list[dict[str, float]] = []

        def measure(window: Window) -> None:
            """Frame quality on the stored luma of a drift frame among those read for clips."""
            if window.requested[0] in wanted:
                t = time.monotonic()
                luma = window.luma.get(window.indices[0])
                quality.append(frame_quality([luma if luma is not None else window.frames[0].rgb()]))
                timings["features_s"] = timings.get("features_s", 0.0) + time.monotonic() - t

        detector = face_detector or make_detector(params.faces)
        clips, failures = extract_clips(reader, params, detector, check_deadline, timings, measure, wanted, ahead)
        features = None
        if with_features:
            means = {k: nan_mean([q[k] for q in quality]) for k in ("blockiness", "sharpness")}
            main = [c.face_size for c in clips if c.face_index == 0]
            features = quality_columns(reader.info, float(np.median(main)) if main else None, means)
        windows = len(plan_clip_starts(reader.num_frames, params))
        return ExtractedVideo(reader.info, clips, failures, reader.stats, windows, params.faces.max_faces, timings,
                              features, evidence)  # fmt: skip


def decide(
    extracted: ExtractedVideo,
    scores: np.ndarray,
    threshold: float,
    relevance: np.ndarray | None = None,
    model: dict[str, Scalar] | None = None,
    thumbnails: bool = True,
) -> Answer:
    """The answer from the clip scores: mean over a person's clips, max over persons; no face: inconclusive.

    `relevance`: the clips' tubelet relevance (N, t, h, w) from `Detector.explain`, when asked for: each
    timeline entry then carries the time-averaged map (h x w, 2 decimals) and it drawn over the clip's middle
    face crop as a 112 px PNG (`modeling.explain.heatmap_png`). `thumbnails`: each person carries a small JPEG.
    """
    clips = extracted.clips
    if relevance is not None and len(relevance) != len(clips):
        raise ValueError(f"{len(relevance)} relevance maps for {len(clips)} clips")
    counts = extracted.counts
    common = {
        "threshold": threshold,
        "persons": PersonCounts(**counts.__dict__),
        "video": video_facts(extracted.info, extracted.stats),
        "timings": {k: round(float(v), 4) for k, v in extracted.timings.items()},
        "model": model,
    }
    if extracted.evidence is not None:
        common.update(provenance=extracted.evidence.provenance, container=extracted.evidence.container,
                      audio=extracted.evidence.audio)  # fmt: skip
    reasons = describe_failures(extracted)
    if not clips:
        reasons = reasons or [Reason(code="no_face", message="No face was found in the video.")]
        answer = Answer(verdict="inconclusive", p_fake=None, faces=[], reasons=reasons, **common)
        return _assessed(answer, extracted, model)
    table = pd.DataFrame({"video_id": "v", "face_index": [c.face_index for c in clips], "p_fake": scores})
    p_video = float(video_scores(table).p_fake.iloc[0])
    faces = []
    for face_index in sorted({c.face_index for c in clips}):
        own = [i for i, c in enumerate(clips) if c.face_index == face_index]  # this person's clips, in time order
        first = clips[own[0]]
        faces.append(
            Person(
                face_index=face_index,
                p_fake=float(np.mean([float(scores[i]) for i in own])),
                face_size=float(np.median([clips[i].face_size for i in own])),
                timeline=[
                    _timeline_entry(clips[i], float(scores[i]), None if relevance is None else relevance[i])
                    for i in own
                ],
                thumbnail_jpeg=jpeg_base64(first.pixels[len(first.pixels) // 2]) if thumbnails else None,
            )
        )
    if counts.seen > counts.analysed:
        reasons.append(Reason(code="faces_not_analysed", message=(
            f"At least {counts.seen} faces were seen and {counts.analysed} analysed: the verdict covers only the "
            "analysed faces.")))  # fmt: skip
    verdict = "fake" if p_video >= threshold else "real"
    answer = Answer(verdict=verdict, p_fake=p_video, faces=faces, reasons=reasons, **common)
    return _assessed(answer, extracted, model)


def _assessed(answer: Answer, extracted: ExtractedVideo, model: dict[str, Scalar] | None) -> Answer:
    """The answer with its assessment: the verdict beside the file's evidence, under the written rule."""
    if extracted.evidence is None:
        return answer
    demo = bool(model and model.get("warning"))  # a model trained on synthetic data: its verdict means nothing
    answer.assessment = assess(answer.verdict, answer.p_fake, demo, extracted.evidence)
    return answer


def video_facts(info: VideoInfo, stats: DecodeStats) -> VideoFacts:
    """The answer's `video`: the probe's facts without the path, what reading cost and lost, and notes."""
    facts = {k: v for k, v in info.as_dict().items() if k != "path"}
    notes = []
    if info.hidden_frames:
        notes.append(f"{info.hidden_frames} stored frames lie outside what the file's edit list shows; they were "
                     "not analysed, and times count from the first shown frame.")  # fmt: skip
    if info.sample_aspect_ratio != "1:1":
        notes.append(f"Pixels are not square ({info.sample_aspect_ratio}): the stored {info.coded_width}x"
                     f"{info.coded_height} picture was analysed as displayed, {info.width}x{info.height}.")  # fmt: skip
    if info.discontinuities:
        notes.append(f"The timestamps restart {info.discontinuities} time(s) (recordings joined into one file); "
                     "the parts are laid end to end.")  # fmt: skip
    if info.timestamps != "container":
        notes.append("The container's timestamps do not identify frames; frames were taken in the decoder's order.")
    for t, w, h in stats.size_changes:
        notes.append(f"The frame size changes to {w}x{h} at {t:.2f} s; those frames were fitted into the first "
                     "frame's picture with their shape kept.")  # fmt: skip
    if stats.lost:
        notes.append(f"{len(stats.lost)} frames could not be decoded (damaged data) and were not analysed.")
    return VideoFacts(**facts, decode_plan=stats.plan, frames_decoded=stats.frames_decoded,
                      frames_lost=len(stats.lost), notes=notes)  # fmt: skip


def describe_failures(extracted: ExtractedVideo) -> list[Reason]:
    """The reasons of an answer from what extraction left out: one sentence per kind, counted."""
    by_code: dict[str, list[ClipFailure]] = {}
    for failure in extracted.failures:
        by_code.setdefault(failure.code or "unreadable", []).append(failure)
    return [Reason(code=code, message=_sentence(code, failures, extracted)) for code, failures in by_code.items()]


def _sentence(code: str, failures: list[ClipFailure], extracted: ExtractedVideo) -> str:
    windows, counts = extracted.windows, extracted.counts
    in_windows = f"{len({f.clip_index for f in failures})} of {windows} clip windows"
    if code == "no_face":
        return f"No face was found in {in_windows}."
    if code == "face_too_small":
        return f"Up to {counts.too_small} face(s) per window too small to analyse, in {in_windows}."
    if code == "over_cap":
        return f"Up to {counts.over_cap} face(s) beyond the cap of {extracted.max_faces} per window, in {in_windows}."
    if code == "frames_lost":
        lost = len(extracted.stats.lost)
        return f"{lost} frames could not be decoded (damaged data); {len(failures)} clip window(s) moved past them."
    if code == "window_lost":
        return f"{in_windows} could not be read: their frames could not be decoded (damaged data)."
    text = failures[0].reason
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _within(t: float, low: float, high: float) -> float:
    """A rounded time kept inside its clip window (rounding must not move a box out of its clip)."""
    return min(max(t, low), high)


def _timeline_entry(clip: Clip, p_fake: float, relevance: np.ndarray | None) -> TimelineEntry:
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
        from deepfake_detection.modeling.heatmap import heatmap_png

        heat = relevance.mean(axis=0)
        heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
        entry["heatmap"] = np.round(heat, 2).tolist()
        entry["heatmap_png"] = heatmap_png(clip.pixels[len(clip.pixels) // 2], heat)
    return TimelineEntry(**entry)


def score_extracted(
    extracted: ExtractedVideo, scorer: ClipScorer, explain: bool = False, model: dict[str, Scalar] | None = None
) -> Answer:
    """Score an extracted video's clips with `scorer` in this process and decide (`explain`: heatmaps too)."""
    t0 = time.monotonic()
    pixels = extracted.pixels()
    scores = np.asarray(scorer.score(pixels)) if pixels is not None else np.zeros(0)
    extracted.timings["model_s"] = time.monotonic() - t0
    relevance = None
    if explain and pixels is not None:
        t0 = time.monotonic()
        relevance = np.asarray(scorer.explain(pixels))
        extracted.timings["explain_s"] = time.monotonic() - t0
    return decide(extracted, scores, scorer.threshold, relevance, model)


def analyze_video(
    path: str | Path,
    scorer: ClipScorer,
    params: ClipParams,
    limits: VideoLimits | None = None,
    face_detector: FaceDetector | None = None,
    explain: bool = False,
    model: dict[str, Scalar] | None = None,
    with_evidence: bool = False,
) -> Answer:
    """Extract, score and decide in this process (the command line, notebooks, tests).

    `explain`: also compute each clip's heatmap (`Detector.explain`; one more forward pass per clip);
    `with_evidence`: read the file's evidence and assess it beside the verdict.
    """
    extracted = extract_video(path, params, limits, face_detector, with_evidence=with_evidence)
    return score_extracted(extracted, scorer, explain, model)

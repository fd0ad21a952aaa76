"""Video in, verdict out: the one path for batch scoring and (next) the BentoML service.

It reuses the training preprocessing exactly: `video.probe` with limits, `clips.extract_clips` (decode, faces,
tracking, crops) and the detector's saved processor config. Face tracks are indexed by size within each clip
(0 = largest), the same convention as the clip table, and scored with the same video-level rule as
evaluation (mean over a face's clips, max over faces). A video with no usable face is `inconclusive`, never
`real`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.clips import extract_clips, make_detector
from deepfake_detection.config import ClipParams
from deepfake_detection.detector import Detector
from deepfake_detection.faces import FaceDetector
from deepfake_detection.metrics import video_scores
from deepfake_detection.video import FrameReader, VideoLimits, probe


@dataclass
class FaceResult:
    face_index: int
    p_fake: float
    timeline: list[dict]  # one entry per clip: start_s, end_s, p_fake, crop box in the clip's middle frame
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

    def as_dict(self) -> dict:
        out = asdict(self)
        for face in out["faces"]:
            face.pop("thumbnail", None)
        return out


def analyze_video(
    path: str | Path,
    detector: Detector,
    params: ClipParams,
    limits: VideoLimits | None = None,
    face_detector: FaceDetector | None = None,
) -> VideoVerdict:
    """Probe (limits first), cut face clips, score them and decide. Raises `VideoError` for unusable files."""
    t0 = time.monotonic()
    info = probe(path, limits)
    reader = FrameReader(path)
    t1 = time.monotonic()
    clips, failures = extract_clips(reader, params, face_detector or make_detector(params))
    t2 = time.monotonic()
    reasons = sorted({f.reason.split(":")[0] for f in failures})
    scores = detector.score(np.stack([c.pixels for c in clips])) if clips else np.zeros(0)
    t3 = time.monotonic()
    timings = {"decode_s": t1 - t0, "faces_s": t2 - t1, "model_s": t3 - t2}
    if not clips:
        return VideoVerdict(
            "inconclusive", None, detector.threshold, [], info.as_dict(), reasons or ["no face"], timings
        )
    table = pd.DataFrame({"video_id": "v", "face_index": [c.face_index for c in clips], "p_fake": scores, "is_fake": 0})
    p_video = float(video_scores(table).p_fake.iloc[0])
    faces = []
    for face_index in sorted({c.face_index for c in clips}):
        own = [(c, float(s)) for c, s in zip(clips, scores, strict=True) if c.face_index == face_index]
        faces.append(
            FaceResult(
                face_index=face_index,
                p_fake=float(np.mean([s for _, s in own])),
                timeline=[
                    {
                        "start_s": c.start_s,
                        "end_s": c.end_s,
                        "p_fake": s,
                        "box": list(c.crop_boxes[len(c.crop_boxes) // 2]),
                    }
                    for c, s in own
                ],
                thumbnail=own[0][0].pixels[len(own[0][0].pixels) // 2],
            )
        )
    verdict = "fake" if p_video >= detector.threshold else "real"
    return VideoVerdict(verdict, p_video, detector.threshold, faces, info.as_dict(), reasons, timings)

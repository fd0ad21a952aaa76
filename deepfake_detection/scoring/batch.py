"""Batch scoring of many videos on Ray: the service's `extract -> score -> decide`, one row per video.

Stages, so the model runs in batches while decoding goes on:

1. `extract_video` (decode, faces, persons, clips) as one Ray task per video, single-threaded, on every core
   of this machine or of a cluster;
2. a scorer actor holding the detector (its OpenVINO fast path when it has one) receives each finished video's
   clips and scores them as one batch; it reserves no CPU slot of its own on a local run (`scorer_cpus`), so
   the cores keep decoding while it works;
3. `decide` per video, exactly as the service decides.

A file that cannot be analysed becomes a row with its `error` and `error_reason` (the service's 4xx reason),
never a failed run. Each row also carries the file's evidence as flat columns (`evidence.columns`: Content
Credentials, container facts, audio, the assessment), the same keys for every file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from deepfake_detection.config import AnalysisParams, ClipParams
from deepfake_detection.evidence.columns import flat_columns, flat_columns_absent
from deepfake_detection.media.probe import VideoLimits
from deepfake_detection.scoring.analyze import decide, error_message, error_reason, extract_video

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".3gp", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg", ".flv", ".gif"}
COLUMNS = [
    "path", "verdict", "p_fake", "threshold", "persons", "persons_seen", "persons_too_small", "persons_over_cap",
    "faces", "clip_scores", "reasons", "reason_codes", "frames_lost", "width", "height", "duration_s", "error",
    "error_reason", "timings", "model", "model_version", "model_warning", "backend",
]  # fmt: skip


class BatchScoringConfig(AnalysisParams):
    """What to score and with what (the `deepfake_batch_scoring` pipeline's run configuration); videos are
    analysed as the service analyses an upload (`AnalysisParams`)."""

    videos: str | None = Field(None, description="a folder (searched recursively) or a text file of paths")
    catalog_artifact: str | None = Field(None, description="or a ZenML artifact holding a catalog (`path` column)")
    model: str = Field("production", description="production (the registry's), a BentoML tag, or a folder")
    model_geometry: dict | None = Field(None, description="override the model's clip geometry (rarely needed)")
    ray_address: str | None = Field(None, description="a Ray cluster; None: RAY_ADDRESS or a local Ray")
    scorer_cpus: float = Field(0.0, ge=0, description="CPU slots the scorer reserves (0: share the cores)")
    output_dir: str = Field(".cache/reports/batch", description="where a Parquet copy and the summary go")


def list_videos(source: str) -> list[str]:
    """Video files under a folder (by suffix, sorted), or the paths listed in a text file (one per line)."""
    path = Path(source)
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if path.is_file():
        lines = [line.strip() for line in path.read_text().splitlines()]
        return [line for line in lines if line and not line.startswith("#")]
    raise FileNotFoundError(f"{source}: neither a folder of videos nor a list file")


class ScoringActor:
    """A Ray actor holding the model once: p(fake) of a stack of clips, timed (one actor per scoring CPU)."""

    def __init__(self, folder: str) -> None:
        from deepfake_detection.modeling.detector import Detector

        self.detector = Detector.load(folder)

    def describe(self) -> dict:
        """Threshold, backend, and the warning every row of a model trained on synthetic data carries."""
        from deepfake_detection.modeling.stored import ModelInfo

        warning = ModelInfo.read(self.detector.info).warning
        return {"threshold": self.detector.threshold, "backend": self.detector.backend, "warning": warning}

    def score(self, clips: np.ndarray) -> tuple[np.ndarray, float]:
        t0 = time.monotonic()
        return self.detector.score(clips), time.monotonic() - t0


def _extract_task(path: str, params: ClipParams, limits: VideoLimits):
    """One video's clips, or the reason it has none (an exception object travels back as a value)."""
    import cv2

    cv2.setNumThreads(1)
    try:
        return extract_video(path, params, limits, threads=1, with_evidence=True)
    except Exception as exc:
        return exc


def score_videos(
    paths: list[str],
    model_folder: str,
    params: ClipParams,
    limits: VideoLimits,
    provenance: dict | None = None,
    address: str | None = None,
    scorer_cpus: float = 0.0,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """One row per path (in order): verdict, p_fake, persons with their timelines, per-clip scores, reasons,
    error, timings (s), model; see the module docstring for the stages."""
    from deepfake_detection.ray_runtime import ray_session

    provenance = provenance or {}
    rows: list[dict | None] = [None] * len(paths)
    with ray_session(address) as ray:
        scorer = ray.remote(num_cpus=scorer_cpus)(ScoringActor).remote(model_folder)
        model = ray.get(scorer.describe.remote())
        extract = ray.remote(num_cpus=1)(_extract_task)
        extracting = {extract.remote(p, params, limits): i for i, p in enumerate(paths)}
        scoring: dict = {}
        done = 0
        while extracting or scoring:
            ready, _ = ray.wait([*extracting, *scoring], num_returns=1)
            ref = ready[0]
            if ref in extracting:
                i = extracting.pop(ref)
                extracted = ray.get(ref)
                if isinstance(extracted, BaseException) or not extracted.clips:
                    rows[i] = _row(paths[i], extracted, None, model, provenance)
                else:
                    scoring[scorer.score.remote(extracted.pixels())] = (i, extracted)
                    continue
            else:
                i, extracted = scoring.pop(ref)
                scores, seconds = ray.get(ref)
                extracted.timings["model_s"] = seconds
                rows[i] = _row(paths[i], extracted, scores, model, provenance)
            done += 1
            if progress:
                progress(done, len(paths), paths[i])
    return pd.DataFrame(rows, columns=[*COLUMNS, *flat_columns_absent()])


def _row(path: str, extracted, scores, model: dict, provenance: dict) -> dict:
    """One Parquet row: the answer flattened (persons and reasons as JSON beside their counts and codes)."""
    base = {"path": path, "threshold": model["threshold"], "backend": model["backend"],
            "model": provenance.get("model", ""), "model_version": provenance.get("version", ""),
            "model_warning": model.get("warning")}  # fmt: skip
    if isinstance(extracted, BaseException):
        return {**base, "verdict": None, "p_fake": None, "persons": 0, "faces": "[]", "clip_scores": "[]",
                "reasons": "[]", "reason_codes": "[]", "error": error_message(extracted), "timings": "{}",
                "error_reason": error_reason(extracted), **flat_columns_absent()}  # fmt: skip
    # the model's warning goes in, so that a demo model's assessment is "no conclusion", as in the service
    answer = decide(extracted, scores if scores is not None else np.zeros(0), model["threshold"],
                    model={"warning": model.get("warning")}, thumbnails=False)  # fmt: skip
    return {
        **base,
        "verdict": answer.verdict,
        "p_fake": answer.p_fake,
        "persons": answer.persons.analysed,
        "persons_seen": answer.persons.seen,
        "persons_too_small": answer.persons.too_small,
        "persons_over_cap": answer.persons.over_cap,
        "faces": json.dumps([f.model_dump(mode="json") for f in answer.faces]),
        "clip_scores": json.dumps([float(s) for s in (scores if scores is not None else [])]),
        "reasons": json.dumps([r.message for r in answer.reasons]),
        "reason_codes": json.dumps([r.code for r in answer.reasons]),
        "frames_lost": answer.video.frames_lost,
        "width": answer.video.width,
        "height": answer.video.height,
        "duration_s": answer.video.duration_s,
        "error": None,
        "error_reason": None,
        "timings": json.dumps(answer.timings),
        **(flat_columns(extracted.evidence, answer.assessment) if extracted.evidence else flat_columns_absent()),
    }


def summarize(table: pd.DataFrame) -> dict:
    """Counts by verdict and error reason, and the mean seconds per stage."""
    timings = pd.DataFrame([json.loads(t) for t in table["timings"]])
    return {
        "videos": len(table),
        "verdicts": {str(k): int(v) for k, v in table["verdict"].fillna("error").value_counts().items()},
        "errors": {str(k): int(v) for k, v in table["error_reason"].dropna().value_counts().items()},
        "mean_seconds": {k: round(float(v), 3) for k, v in timings.mean().items()} if not timings.empty else {},
    }

"""Typed run configuration.

ZenML run configs (`configs/*.yaml`) carry these models under `parameters:`; ZenML validates them with
pydantic when the pipeline starts, so a typo in a config fails before any video is decoded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deepfake_detection.media.probe import VideoLimits

# Changes when the same parameters give other clip pixels (the reader's frames, the crops): a clip store keyed
# without it would serve clips cut the old way. 2: frames as a viewer sees them (edit lists, square pixels).
# 3: crops cut from the stored planes (chroma interpolated), frames >= 2x the analysed size held decimated (4K).
PREPROCESSING = 3

ClipFormat = Literal["jpeg", "npy", "zstd", "h264"]  # how a clip store writes clips (`data.clip_formats`)
Engine = Literal["ray", "local"]  # ray: one task per video on every core or a cluster; local: in this process


class FaceParams(BaseModel):
    """How faces are found, followed and kept: a setting of the data run or the service, never of a model.

    The model only fixes the crop geometry (`ClipGeometry`); any detector that finds the face gives the
    same crop, so a better detector can be deployed without retraining.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)  # defaults coerced: stable keys

    detector: Literal["yunet", "dlib_hog"] = Field("yunet", description="yunet (default) or dlib_hog")
    min_score: float | None = Field(None, description="detection score threshold; None: the detector's (0.6 YuNet)")
    min_face_px: float = Field(
        64.0,
        gt=0,
        description="faces smaller than this are 'too small' (px of the analysed picture: the displayed "
        "one, its long side at most 1920 px, where crops are cut)",
    )
    base_side: int = Field(640, ge=64, description="frames larger than this (long side) are shrunk towards it")
    detect_every: int = Field(8, ge=1, description="run the detector on every n-th frame of a clip (and the last)")
    min_hit_rate: float = Field(0.5, gt=0.0, le=1.0, description="fraction of key frames a face must be seen in")
    max_faces: int = Field(1, ge=1, description="faces kept per clip window, largest first")


class ClipGeometry(BaseModel):
    """What a model was trained on: how a clip is laid out in time and space. Stored with every model."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)  # defaults coerced: stable keys

    clip_len: int = Field(16, ge=1, description="frames per clip; VideoMAE expects 16")
    stride: int = Field(1, ge=1, description="temporal stride between the frames of a clip")
    size: int = Field(224, ge=16, description="side of the square face crop in pixels")
    margin: float = Field(1.3, ge=1.0, le=3.0, description="crop side as a multiple of the face box side")


def model_geometry(info: dict) -> dict | None:
    """The clip geometry a model's metadata records (`clip_geometry`; models before it: `clip_params`), or None."""
    return info.get("clip_geometry", info.get("clip_params"))


class ClipParams(ClipGeometry):
    """How clips are cut from a video: the geometry, how many windows, and how faces are found.

    Anything that changes clip pixels belongs here (it keys the clip store).
    """

    clips_per_video: int = Field(4, ge=1, description="K clip windows per video, evenly spaced")
    faces: FaceParams = Field(default_factory=FaceParams)

    def geometry(self) -> ClipGeometry:
        return ClipGeometry(**{k: getattr(self, k) for k in ClipGeometry.model_fields})

    @classmethod
    def for_model(cls, geometry: dict, clips_per_video: int, faces: FaceParams) -> ClipParams:
        """The model's geometry (extra keys of older models, such as their detector, are ignored) with the
        deployment's own windows and face settings."""
        own = {k: v for k, v in geometry.items() if k in ClipGeometry.model_fields}
        return cls(**own, clips_per_video=clips_per_video, faces=faces)

    def cache_key(self) -> str:
        """A short stable hash of these parameters and of `PREPROCESSING`: clips made otherwise never mix."""
        key = {**self.model_dump(), "preprocessing": PREPROCESSING}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


class PromotionParams(BaseModel):
    """The registry's promotion gate (`registry.decide_promotion`): what a version must reach to be production."""

    model_config = ConfigDict(extra="forbid")

    min_val_auc: float = Field(0.6, ge=0, le=1)
    min_test_auc: float = Field(0.6, ge=0, le=1)
    min_improvement: float = Field(0.0, ge=0, description="test AUC margin over production needed to replace it")


class DemoParams(BaseModel):
    """The synthetic FF++-layout demo set (see `demo_data`)."""

    model_config = ConfigDict(extra="forbid")

    pairs: dict[str, int] = Field(default_factory=lambda: {"train": 8, "val": 2, "test": 2})
    frames: int = Field(48, ge=16)
    seed: int = 0


class Placement(BaseModel):
    """Where a run's work happens and its clips live: the deployment part of the data and cross-evaluation runs
    (flat in their YAML: `clip_store:`, `engine:` ... beside the run's own keys)."""

    model_config = ConfigDict(extra="forbid")

    clip_store: str = Field(".cache/clips", description="a folder or an fsspec URL (s3://bucket/clips) workers share")
    clip_format: ClipFormat = Field("jpeg", description="how clips are stored")
    engine: Engine = Field("ray", description="ray: one task per video on every core or a cluster; local: in process")
    ray_address: str | None = Field(None, description="a Ray cluster (ray://head:10001); None: RAY_ADDRESS or local")


class AnalysisParams(BaseModel):
    """How a deployment analyses one video with a trained model (the service, batch scoring, cross-evaluation):
    its clip windows, how faces are found, and the probe's limits. The crop geometry comes from the model."""

    model_config = ConfigDict(extra="forbid")

    clips_per_video: int = Field(8, ge=1, description="clip windows scored per video (the timeline's resolution)")
    faces: FaceParams = Field(
        default_factory=lambda: FaceParams(max_faces=8),
        description="how faces are found (detector, smallest face, cap on persons); the model fixes only the crop",
    )
    limits: VideoLimits = Field(
        default_factory=VideoLimits,
        description="probe limits; a video over them is refused before any frame is decoded (the work per video is "
        "bounded by its clip windows, not its length: an hour-long video is read by seeking)",
    )

    def clip_params(self, geometry: dict) -> ClipParams:
        """The model's `geometry` (its `clip_geometry` metadata) with these windows and face settings."""
        return ClipParams.for_model(geometry, self.clips_per_video, self.faces)


class DataConfig(Placement):
    """Everything the data pipeline needs: where FF++ lives, what to use, and how to cut clips."""

    ffpp_root: str
    splits_dir: str | None = Field(None, description="folder with train/val/test.json; None: the official lists")
    methods: list[str] | None = Field(None, description='methods to use incl. "original"; None: all present')
    compressions: list[str] | None = Field(None, description="c0/c23/c40; None: all present")
    clips: ClipParams = Field(default_factory=ClipParams)
    limits: VideoLimits = Field(default_factory=VideoLimits)
    demo: DemoParams | None = Field(None, description="set to build the synthetic demo set at ffpp_root first")

    @model_validator(mode="after")
    def _known_compressions(self) -> DataConfig:
        bad = set(self.compressions or []) - {"c0", "c23", "c40"}
        if bad:
            raise ValueError(f"unknown compressions {sorted(bad)}; use c0, c23 or c40")
        return self

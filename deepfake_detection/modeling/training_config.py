"""The training pipeline's typed run configuration (kept apart from `config` to avoid an import cycle)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.config import PromotionParams
from deepfake_detection.modeling.fast_path import FastPathConfig
from deepfake_detection.modeling.training import TrainParams


class TrainingConfig(BaseModel):
    """The training pipeline's run configuration (train, evaluate, promote, export)."""

    model_config = ConfigDict(extra="forbid")

    train: TrainParams = Field(default_factory=TrainParams)
    promotion: PromotionParams = Field(default_factory=PromotionParams)
    work_dir: str = Field(".cache/training", description="checkpoints; a rerun of the same data and config resumes")
    report_dir: str = Field(".cache/reports", description="evaluation plots as PNG files")
    export_to_bentoml: bool = True
    fast_path: FastPathConfig = Field(
        default_factory=FastPathConfig, description="the OpenVINO model built and checked at export (CPU serving)"
    )

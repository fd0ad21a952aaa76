"""Run configurations of the `deepfake_feedback` and `deepfake_continuous_training` pipelines (`configs/*.yaml`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.modeling.training_config import TrainingConfig
from deepfake_detection.registry import MODEL_NAME

DEFAULT_REVIEWS_URL = "sqlite:///.cache/serving/reviews.sqlite"


class FeedbackConfig(BaseModel):
    """Reviews + request log + retained clips -> `reviewed_dataset`; registry models evaluated on it."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(MODEL_NAME, description="the registry model whose versions are evaluated")
    reviews_url: str = Field(DEFAULT_REVIEWS_URL, description="the review store (any SQLAlchemy URL)")
    request_log_dirs: list[str] = Field(default_factory=lambda: [".cache/serving"], description="request logs")
    retained_clips: str = Field(".cache/serving/retained_clips", description="the retained clip store")
    holdout_fraction: float = Field(0.3, gt=0, lt=1, description="the newest share of labelled requests held out")
    min_holdout: int = Field(2, ge=1, description="at least this many requests held out (when there are more)")
    holdout_since: float | None = Field(None, description="a fixed cut (unix s): requests decided after it held out")
    models: list[str] = Field(default_factory=lambda: ["production", "staging"],
                              description="registry versions evaluated: production, staging, version:N")  # fmt: skip
    bootstrap: int = Field(1000, ge=0, description="bootstrap draws for the AUC interval")
    workspace: str = Field(".cache/evidently", description="the Evidently workspace `make dashboard` shows")
    project: str = "deepfake-videomae online evaluation"
    reports_dir: str = ".cache/reports/online"
    run_name: str | None = Field(None, description="how the runs are named in the workspace")


class Triggers(BaseModel):
    """When continuous training retrains."""

    model_config = ConfigDict(extra="forbid")

    on_drift: bool = Field(True, description="retrain when the latest monitoring verdict for production drifted")
    min_new_reviews: int = Field(20, ge=1, description="retrain when this many requests were labelled since "
                                 "the production version was made")  # fmt: skip
    verdict_max_age_hours: float | None = Field(None, gt=0, description="older monitoring verdicts are ignored")


class GateParams(BaseModel):
    """The continuous-training gate: the candidate must not be worse than production on either test."""

    model_config = ConfigDict(extra="forbid")

    max_test_auc_drop: float = Field(0.0, ge=0, description="allowed drop of test clip AUC vs production")
    max_holdout_drop: float = Field(0.0, ge=0, description="allowed drop on the held-out reviewed requests "
                                    "(video AUC; accuracy when the held-out set has one class)")  # fmt: skip
    shadow_min_requests: int = Field(10, ge=1, description="reviewed shadow requests needed for the shadow check")
    shadow_max_accuracy_drop: float = Field(0.0, ge=0, description="allowed live accuracy drop vs production")


class ContinuousTrainingConfig(BaseModel):
    """Signals -> decision -> (fine-tune from production on its data + reviewed clips -> evaluate -> gate)."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(MODEL_NAME, description="the registry model")
    triggers: Triggers = Field(default_factory=Triggers)
    gate: GateParams = Field(default_factory=GateParams)
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="fine-tuning (its model source "
                                     "is replaced by the production version), reports, export, fast path")  # fmt: skip
    clip_dataset: str | None = Field(None, description="clip_dataset artifact version id; None: the one the "
                                     "production version was trained on")  # fmt: skip
    request_log_dirs: list[str] = Field(default_factory=lambda: [".cache/serving"],
                                        description="where shadow scores are read for the shadow check")  # fmt: skip
    bootstrap: int = Field(1000, ge=0)

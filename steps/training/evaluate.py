"""Evaluation step: metrics at clip and video level, per method and compression, with pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from zenml import get_step_context, log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.evaluation.report import Evaluation, evaluate, report_html
from deepfake_detection.modeling.detector import Detector

logger = get_logger(__name__)


@step
def evaluate_model(
    dataset: ClipDataset, detector: Detector, report_dir: str
) -> tuple[
    Annotated[Evaluation, "evaluation"],
    Annotated[Evaluation, "val_evaluation"],
    Annotated[HTMLString, "evaluation_report"],
]:
    """Test-split evaluation at the validation threshold (and the validation split for the gate)."""
    run = get_step_context().pipeline_run.name
    plot_dir = Path(report_dir) / run
    test = evaluate(detector, dataset, "test", plot_dir)
    val = evaluate(detector, dataset, "val", plot_dir)
    logger.info("test metrics (threshold %.3f from validation):\n%s", test.threshold, test.table().round(4).to_string())
    logger.info("plots: %s", plot_dir)
    clip, video = test.headline("clip"), test.headline("video")
    log_metadata(
        {
            "test_clip": {k: clip[k] for k in ("accuracy", "f1", "auc", "ap", "eer", "log_loss", "ece", "n")},
            "test_video": {k: video[k] for k in ("accuracy", "f1", "auc", "ap", "eer", "n")},
            "test_clip_auc_ci95": list(test.clip_auc_ci),
            "val_clip_auc": val.headline("clip")["auc"],
            "threshold": test.threshold,
            "trained_on": dataset.source,
        },
        infer_model=True,
    )
    html = report_html(test, f"deepfake-videomae, {run}: test split, trained on {dataset.source}")
    return test, val, HTMLString(html)

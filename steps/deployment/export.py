"""Deployment step: the production detector into the BentoML model store as `deepfake-videomae`."""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, log_metadata, step
from zenml.logger import get_logger

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.evaluation.model_card import model_card
from deepfake_detection.evaluation.report import Evaluation
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.fast_path import build_fast_path, calibration_clips
from deepfake_detection.modeling.training_config import TrainingConfig
from deepfake_detection.registry import MODEL_NAME, PromotionDecision, export_to_bentoml

logger = get_logger(__name__)


@step
def export_model(
    dataset: ClipDataset,
    detector: Detector,
    evaluation: Evaluation,
    decision: PromotionDecision,
    config: TrainingConfig,
) -> Annotated[str, "bento_model_tag"]:
    """Exports only a version that was promoted, with its fast path when that passes its check on validation
    clips; returns the BentoML tag, or "" when nothing was exported."""
    model = get_step_context().model
    detector.info.update(model_name=MODEL_NAME, model_version=str(model.version), stage=decision.stage)
    if not (decision.promoted and config.export_to_bentoml):
        logger.info("not exported: version %s stays %s", model.version, decision.stage)
        return ""
    if config.fast_path.precision != "none":
        clips, labels = calibration_clips(dataset, config.fast_path.calibration_clips)
        logger.info("fast path: OpenVINO %s, without and with token merging (%s), calibrated and checked on %d "
                    "validation clips", config.fast_path.precision,
                    ", ".join(s.spec for s in config.fast_path.token_merging) or "none", len(clips))  # fmt: skip
        check, detector.fast = build_fast_path(detector, clips, labels, config.fast_path)
        detector.info["fast_path"] = check.model_dump()
        log_metadata({"fast_path": check.model_dump()}, infer_model=True)
        for c in check.candidates:
            logger.info("fast path candidate %s: max |p_fake difference| %.4f, %.3f s/clip vs %.3f s/clip in torch "
                        "fp32: %s", c.backend_name, c.max_p_diff, c.seconds_per_clip_fast, c.seconds_per_clip_reference,
                        "passed" if c.passed else c.reason)  # fmt: skip
        logger.info("fast path: %s", check.summary)
    card = model_card(detector.info, evaluation, config.train.model_dump())
    tag = export_to_bentoml(detector, card, labels={"stage": "production", "zenml_model_version": str(model.version)})
    logger.info("exported %s to the BentoML store", tag)
    log_metadata({"bento_model": tag}, infer_model=True)
    return tag

"""Promotion step: the gate of `registry.decide_promotion`, applied to the ZenML model version."""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, log_metadata, step
from zenml.enums import ModelStages
from zenml.logger import get_logger

from deepfake_detection.config import PromotionParams
from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.evaluation.report import Evaluation
from deepfake_detection.modeling.detector import score_table
from deepfake_detection.registry import PromotionDecision, decide_promotion, production_detector

logger = get_logger(__name__)


@step
def promote_model(
    dataset: ClipDataset, evaluation: Evaluation, val_evaluation: Evaluation, promotion: PromotionParams
) -> Annotated[PromotionDecision, "promotion_decision"]:
    """Production only when earned; otherwise staging, with the reasons logged."""
    from sklearn.metrics import roc_auc_score

    current = production_detector()
    production_auc = production_version = None
    if current is not None:
        prod, production_version = current
        test = dataset.split("test")
        production_auc = float(roc_auc_score(test.is_fake, score_table(prod, dataset, test)))
        logger.info("production version %s re-scored on the same %d test clips: AUC %.4f",
                    production_version, len(test), production_auc)  # fmt: skip
    decision = decide_promotion(
        promotion,
        contracts_passed=dataset.contracts_passed,
        val_auc=val_evaluation.headline("clip")["auc"],
        test_auc=evaluation.headline("clip")["auc"],
        production_auc=production_auc,
        production_version=production_version,
    )
    model = get_step_context().model
    model.set_stage(ModelStages.PRODUCTION if decision.promoted else ModelStages.STAGING, force=True)
    logger.info("model version %s -> %s: %s", model.version, decision.stage, "; ".join(decision.reasons))
    log_metadata({"promotion": decision.model_dump()}, infer_model=True)
    return decision

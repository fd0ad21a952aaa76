"""The reviewed-dataset step: labels by the stated rule, split by time, and its data contracts."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger

from deepfake_detection.data.contracts import ContractReport
from deepfake_detection.feedback.config import FeedbackConfig
from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset, build_reviewed_dataset, validate_reviewed
from steps.feedback.materializers import ReviewedDatasetMaterializer
from steps.feedback.versions import registry_version, version_geometry

logger = get_logger(__name__)


@step(output_materializers={"reviewed_dataset": ReviewedDatasetMaterializer})
def build_reviewed(
    config: FeedbackConfig, reviews: pd.DataFrame, request_log: pd.DataFrame, retained_clips: pd.DataFrame
) -> tuple[Annotated[ReviewedDataset, "reviewed_dataset"], Annotated[ContractReport, "contract_report"]]:
    """The reviewed dataset with clips of the production model's geometry, validated by its GX contracts.

    `contracts_passed` is set on the artifact; `enforce_contract` then stops the run when they failed.
    """
    production = registry_version(config.model_name, "production")
    geometry = version_geometry(production) if production is not None else None
    dataset = build_reviewed_dataset(reviews, request_log, retained_clips, config.retained_clips, geometry,
                                     config.holdout_fraction, config.min_holdout, config.holdout_since)  # fmt: skip
    report = validate_reviewed(dataset)
    dataset.contracts_passed = report.success
    summary = dataset.summary()
    logger.info("reviewed dataset %s: %s; excluded %s; rule: %s", dataset.content_hash, summary["per_split_label"],
                summary["excluded"] or "none", dataset.rule)  # fmt: skip
    if dataset.simulated:
        logger.warning("some labels come from SIMULATED reviews (the demo's own labels), not from people")
    logger.info(report.summary())
    log_metadata({"reviewed_dataset": {k: v for k, v in summary.items() if k != "rule"},
                  **{r.suite: {"success": r.success, "failures": r.failures} for r in report.results}})  # fmt: skip
    return dataset, report

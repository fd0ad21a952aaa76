"""Continuous-training steps: the signals and the decision, fine-tuning from production, the gate, the record.

Every run writes its decision and the numbers behind it to the registry as `continuous_training` metadata: on
the new version when it retrained, on the production version when it did not.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import ModelStages
from zenml.logger import get_logger

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.evaluation.report import Evaluation
from deepfake_detection.feedback.config import ContinuousTrainingConfig
from deepfake_detection.feedback.continuous_training import (
    CandidateDecision,
    RetrainingDecision,
    RetrainingSignals,
    decide_candidate,
    decide_retraining,
    shadow_check,
    training_mix,
)
from deepfake_detection.feedback.online_evaluation import online_metrics, score_requests
from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset
from deepfake_detection.feedback.shadow_log import read_with_shadow
from deepfake_detection.metrics.binary import choose_threshold
from deepfake_detection.modeling.detector import Detector, score_table
from deepfake_detection.modeling.model import load_model
from deepfake_detection.modeling.stored import INFO_SCHEMA
from deepfake_detection.modeling.training import score_clips, train, validation_table
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS
from deepfake_detection.monitoring.request_log import DB_NAME
from deepfake_detection.registry import MODEL_NAME, PromotionDecision
from steps.feedback.versions import registry_version, version_detector
from steps.materializers import DetectorMaterializer
from steps.training.train import _code_commit

logger = get_logger(__name__)


def _unix(moment: datetime) -> float:
    """ZenML stores UTC times without a zone."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _latest_verdict(model_name: str) -> tuple | None:
    """(drift summary, compared version, run name, run time) of the latest completed monitoring run of the model."""
    client = Client()
    runs = client.list_pipeline_runs(pipeline_name="deepfake_monitoring", sort_by="desc:created", size=50)
    for run in runs.items:
        params = (run.config.parameters or {}).get("config") or {}
        named = (params.get("model_name") if isinstance(params, dict) else None) or MODEL_NAME
        if str(run.status) != "completed" or named != model_name:
            continue
        steps = run.steps
        summary = steps["drift_report"].outputs["drift_summary"][0].load()
        compared = steps["load_reference"].outputs["reference_model_version"][0].load()
        return summary, str(compared), run.name, _unix(run.created)
    return None


def _training_data(production, configured: str | None):
    """The clip_dataset artifact version the production version was trained on (by its data hash), or the
    configured one; the latest clip_dataset (warned) when neither is found."""
    client = Client()
    if configured:
        return client.get_artifact_version(configured)
    data_hash = ((production.run_metadata or {}).get("training") or {}).get("data_hash") if production else None
    for version in client.list_artifact_versions(name="clip_dataset", sort_by="desc:created", size=100).items:
        if data_hash and (version.run_metadata or {}).get("content_hash") == data_hash:
            return version
    latest = client.get_artifact_version("clip_dataset")
    logger.warning("the production version's training data (hash %s) was not found; using the latest "
                   "clip_dataset (%s)", data_hash, latest.id)  # fmt: skip
    return latest


@step
def decide_retraining_step(
    config: ContinuousTrainingConfig,
) -> tuple[Annotated[RetrainingDecision, "retraining_decision"], Annotated[str, "clip_dataset_id"]]:
    """The latest monitoring verdict for production and the reviews since it was made -> retrain or not."""
    signals = RetrainingSignals()
    production = registry_version(config.model_name, "production")
    if production is not None:
        signals.production_version, signals.production_created = str(production.name), _unix(production.created)
    verdict = _latest_verdict(config.model_name)
    if verdict is not None:
        summary, compared, run, at = verdict
        signals.drift_alarmed, signals.drift_headline = summary.drifted, summary.headline()
        signals.drift_model_version, signals.drift_run = compared, run
        signals.drift_age_hours = (time.time() - at) / 3600
    try:
        artifact = Client().get_artifact_version("reviewed_dataset")
    except KeyError:
        artifact = None
    if artifact is not None:
        reviewed = artifact.load()
        r = reviewed.requests
        since = signals.production_created or 0.0
        signals.reviewed_dataset, signals.reviewed_requests = str(artifact.id), len(r)
        signals.reviewed_train_requests = int((r["split"] == "train").sum())
        signals.reviewed_contracts_passed, signals.simulated_reviews = reviewed.contracts_passed, reviewed.simulated
        signals.new_reviews = int((r["decided_at"] > since).sum())
    decision = decide_retraining(signals, config.triggers)
    data = _training_data(production, config.clip_dataset) if decision.retrain else None
    logger.info("%s: %s", "RETRAIN" if decision.retrain else "no retraining", "; ".join(decision.reasons))
    log_metadata({"retraining_decision": decision.model_dump()})
    return decision, str(data.id) if data is not None else ""


@step(output_materializers={"detector": DetectorMaterializer})
def fine_tune_model(
    clip_dataset: ClipDataset,
    reviewed_dataset: ReviewedDataset,
    retraining_decision: RetrainingDecision,
    config: ContinuousTrainingConfig,
) -> tuple[Annotated[Detector, "detector"], Annotated[pd.DataFrame, "drift_reference"]]:
    """Fine-tune the production weights on its training data plus the reviewed `train` requests' clips.

    The drift reference of the new version: production's (its training videos) plus the reviewed train requests'
    drift features from the request log, since the new version has seen that traffic.
    """
    production = registry_version(config.model_name, "production")
    base = version_detector(production)
    work = Path(config.training.work_dir)
    base_dir = work / f"base-{config.model_name}-v{production.name}"
    if not (base_dir / "detector.json").is_file():
        base.save(base_dir)
    train_params = config.training.train
    params = train_params.model_copy(update={"model": train_params.model.model_copy(
        update={"checkpoint": str(base_dir.resolve())})})  # fmt: skip
    mix = training_mix(clip_dataset, reviewed_dataset)
    extra = reviewed_dataset.split("train")
    key = hashlib.sha256(f"{mix.content_hash}{params.model_dump_json()}{production.name}".encode()).hexdigest()[:12]
    logger.info("fine-tuning version %s on %s (%d clips, %d of them from %d reviewed requests; %d held-out "
                "requests never used); checkpoints in %s", production.name, mix.source, len(mix.split("train")),
                len(extra), extra["request_id"].nunique(),
                reviewed_dataset.requests["split"].eq("holdout").sum(), work / key)  # fmt: skip
    result = train(mix, params, work / key, resume=True)
    model, processor = load_model(result.best_dir)
    detector = Detector(model=model, processor=processor)
    val = validation_table(mix, params.sbi.mode)
    detector.threshold = choose_threshold(val.is_fake.to_numpy(), score_clips(detector, mix, val))
    detector.info = {
        "schema_version": INFO_SCHEMA, "origin": "fine_tuned", "trained_on_synthetic": mix.synthetic,
        "base_model": f"{config.model_name} version {production.name} (fine-tuned by continuous training)",
        "fine_tuned_from": str(production.name), "trained_on": mix.source, "data_hash": clip_dataset.content_hash,
        "reviewed_dataset": reviewed_dataset.content_hash, "reviewed_requests_used": int(extra["request_id"].nunique()),
        "reviewed_clips_used": len(extra), "simulated_reviews": reviewed_dataset.simulated,
        "code_commit": _code_commit(), "best_epoch": result.best_epoch, "best_val_auc": result.best_val_auc,
        "seconds_per_epoch": result.seconds_per_epoch, "epochs_run": len(result.history),
        "clip_geometry": clip_dataset.params.geometry().model_dump(),
        "data_clip_params": clip_dataset.params.model_dump(),
    }  # fmt: skip
    logger.info("best epoch %d, val AUC %.4f, threshold %.4f", result.best_epoch, result.best_val_auc,
                detector.threshold)  # fmt: skip
    log_metadata({"training": {k: v for k, v in detector.info.items() if k != "data_clip_params"},
                  "history": result.history}, infer_model=True)  # fmt: skip
    reference = production.get_artifact("drift_reference")
    old = reference.load() if reference is not None else pd.DataFrame(columns=FEATURE_COLUMNS)
    seen = reviewed_dataset.requests[reviewed_dataset.requests["split"] == "train"]
    new = seen.reindex(columns=FEATURE_COLUMNS).assign(
        video_id=seen["request_id"], label=seen["is_fake"].map({1: "fake", 0: "real"}), method="reviewed traffic",
        compression="served",
    )  # fmt: skip
    return detector, pd.concat([old, new], ignore_index=True)


@step
def gate_candidate(
    clip_dataset: ClipDataset,
    reviewed_dataset: ReviewedDataset,
    detector: Detector,
    evaluation: Evaluation,
    retraining_decision: RetrainingDecision,
    config: ContinuousTrainingConfig,
) -> tuple[Annotated[PromotionDecision, "promotion_decision"], Annotated[CandidateDecision, "continuous_training"]]:
    """Production only when not worse than production on the test split and the held-out reviewed requests."""
    from sklearn.metrics import roc_auc_score

    model = get_step_context().model
    production = registry_version(config.model_name, "production")
    current = version_detector(production)
    test = clip_dataset.split("test")
    production_auc = float(roc_auc_score(test.is_fake, score_table(current, clip_dataset, test)))
    candidate_auc = float(evaluation.headline("clip")["auc"])
    holdout = {name: online_metrics(score_requests(d, reviewed_dataset, "holdout"), d.threshold, config.bootstrap)
               for name, d in (("candidate", detector), ("production", current))}  # fmt: skip
    logs = [d for d in config.request_log_dirs if (Path(d) / DB_NAME).is_file()]
    shadowed = pd.concat([read_with_shadow(d) for d in logs], ignore_index=True) if logs else pd.DataFrame()
    shadow = shadow_check(shadowed, reviewed_dataset, str(model.version))
    decision = decide_candidate(config.gate, clip_dataset.contracts_passed and reviewed_dataset.contracts_passed,
                                candidate_auc, production_auc, holdout["candidate"], holdout["production"],
                                shadow)  # fmt: skip
    model.set_stage(ModelStages.PRODUCTION if decision.promoted else ModelStages.STAGING, force=True)
    logger.info("candidate version %s -> %s: %s", model.version, decision.stage, "; ".join(decision.reasons))
    record = {"decision": "retrained and promoted" if decision.promoted else "retrained, kept in staging",
              "retraining": retraining_decision.model_dump(), "gate": decision.model_dump(),
              "holdout": holdout, "production_version": str(production.name)}  # fmt: skip
    log_metadata({"continuous_training": record}, infer_model=True)
    promotion = PromotionDecision(promoted=decision.promoted, stage=decision.stage, reasons=decision.reasons,
                                  new_test_auc=candidate_auc, production_test_auc=production_auc,
                                  production_version=str(production.name))  # fmt: skip
    return promotion, decision


@step
def record_no_retraining(retraining_decision: RetrainingDecision, config: ContinuousTrainingConfig) -> None:
    """Why no retraining was needed, on the production version (and this run)."""
    record = {"decision": "no retraining", "checked_at": time.time(), "retraining": retraining_decision.model_dump()}
    version = retraining_decision.signals.production_version
    if version is not None:
        log_metadata({"continuous_training": record}, model_name=config.model_name, model_version=version)
    log_metadata({"continuous_training": record})
    logger.info("no retraining: %s", "; ".join(retraining_decision.reasons))

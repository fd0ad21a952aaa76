"""Training step: fine-tune, keep the best epoch, choose the threshold on validation."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import ArtifactConfig, log_metadata, step
from zenml.enums import ArtifactType
from zenml.logger import get_logger

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.metrics.binary import choose_threshold
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.launch import launch_training
from deepfake_detection.modeling.model import load_model
from deepfake_detection.modeling.stored import INFO_SCHEMA
from deepfake_detection.modeling.training import score_clips, train, validation_table
from deepfake_detection.modeling.training_config import TrainingConfig
from deepfake_detection.monitoring.drift_reference import reference_table
from deepfake_detection.progress import Progress
from steps.materializers import DetectorMaterializer

logger = get_logger(__name__)


def _code_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@step(output_materializers={"detector": DetectorMaterializer})
def train_model(
    dataset: ClipDataset, config: TrainingConfig
) -> tuple[
    Annotated[Detector, ArtifactConfig(name="detector", artifact_type=ArtifactType.MODEL)],
    Annotated[pd.DataFrame, "drift_reference"],
]:
    """Train on `train`, select on `val`; resumes an interrupted run of the same data and config."""
    params = config.train
    key = hashlib.sha256(f"{dataset.content_hash}{params.model_dump_json()}".encode()).hexdigest()[:12]
    out_dir = Path(config.work_dir) / key
    logger.info("training %s on %s (%s); checkpoints in %s", params.model.source, dataset.source,
                dataset.content_hash, out_dir)  # fmt: skip
    if params.num_processes > 1:  # one process per GPU through `accelerate launch`, the same loop
        result = launch_training(dataset, params, out_dir, params.num_processes)
    else:
        result = train(dataset, params, out_dir, resume=True)
    model, processor = load_model(result.best_dir)
    detector = Detector(model=model, processor=processor)
    val = validation_table(dataset, params.sbi.mode)
    detector.threshold = choose_threshold(val.is_fake.to_numpy(), score_clips(detector, dataset, val))
    detector.info = {
        "schema_version": INFO_SCHEMA,
        "origin": "scratch" if params.model.checkpoint is None else "pretrained",
        "base_model": params.model.source,
        "trained_on": dataset.source,
        "trained_on_synthetic": dataset.synthetic,
        "data_hash": dataset.content_hash,
        "code_commit": _code_commit(),
        "best_epoch": result.best_epoch,
        "best_val_auc": result.best_val_auc,
        "seconds_per_epoch": result.seconds_per_epoch,
        "epochs_run": len(result.history),
        "processes": params.num_processes,
        "stopped_early": result.stopped_early,
        "train_config": json.loads(params.model_dump_json()),
        # serving cuts clips with this geometry; how faces were found is the data run's (data_clip_params)
        "clip_geometry": dataset.params.geometry().model_dump(),
        "data_clip_params": dataset.params.model_dump(),
    }
    logger.info("best epoch %d, val AUC %.4f, threshold %.4f (Youden on val), %.1fs/epoch", result.best_epoch,
                result.best_val_auc, detector.threshold, result.seconds_per_epoch)  # fmt: skip
    log_metadata(
        {
            "training": {k: v for k, v in detector.info.items() if k not in ("train_config", "data_clip_params")},
            "history": result.history,
        },
        infer_model=True,
    )
    logger.info("drift reference: measuring the training videos")
    reference = reference_table(dataset.split("train"), progress=Progress("drift reference", 0, logger))
    return detector, reference

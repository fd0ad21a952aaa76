"""`deepfake-detect import`: a VideoMAE checkpoint from elsewhere registered as a version of `deepfake-videomae`,
through the import pipeline (a real/fake head) or the training pipeline (any other head, fine-tuned)."""

from __future__ import annotations

from pathlib import Path

from deepfake_detection.modeling.import_checkpoint import fake_index, read_config


def run_import(source: str, config_path: str | Path | None, override: int | None = None) -> str:
    """Run the import (or, for a non real/fake head, the fine-tuning) pipeline; a line saying what became of it.

    `config_path`: a training config (its promotion gate and fine-tuning recipe); None: the built-in defaults.
    """
    import yaml
    from zenml.client import Client

    from deepfake_detection.modeling.training_config import TrainingConfig
    from deepfake_detection.registry import MODEL_NAME

    config = read_config(source)
    fake = fake_index(config.id2label, override)
    data = (yaml.safe_load(Path(config_path).read_text()) or {}) if config_path else {}
    training = TrainingConfig(**data.get("parameters", {}).get("config", {}))
    if fake is None:
        from pipelines.training_pipeline import training_pipeline

        training.train.model.checkpoint = source
        training_pipeline(config=training)
        what = f"fine-tuned {source} ({len(config.id2label)}-class head replaced by real/fake)"
    else:
        from pipelines.import_pipeline import import_pipeline

        import_pipeline(source=source, fake_index=fake, config=training)
        what = f"imported {source} (fake = output {fake} of its head)"
    version = Client().get_model_version(MODEL_NAME)  # the latest version: the one just made
    meta = version.run_metadata
    auc = meta.get("test_clip", {}).get("auc") if isinstance(meta.get("test_clip"), dict) else None
    stage = version.stage or "none"
    return f"{what}: {MODEL_NAME} version {version.number}, test clip AUC {auc}, stage {stage}"

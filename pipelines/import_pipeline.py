"""The import pipeline: a foreign real/fake VideoMAE checkpoint -> evaluate -> promote -> export to BentoML.

The same evaluation, gate and export as a trained version (`pipelines/training_pipeline.py`); only the
training step is replaced by `import_checkpoint`. Started by `deepfake-detect import PATH_OR_HUB_ID`.
"""

from __future__ import annotations

from zenml import pipeline
from zenml.client import Client

from deepfake_detection.modeling.training_config import TrainingConfig
from pipelines.training_pipeline import DETECTOR_MODEL
from steps.deployment.export import export_model
from steps.promotion.promote import promote_model
from steps.training.evaluate import evaluate_model
from steps.training.import_checkpoint import import_checkpoint


@pipeline(name="deepfake_import", model=DETECTOR_MODEL, enable_cache=False)
def import_pipeline(source: str, fake_index: int, config: TrainingConfig):
    dataset = Client().get_artifact_version("clip_dataset")  # the latest validated dataset
    detector = import_checkpoint(dataset, source, fake_index)
    test_eval, val_eval, _ = evaluate_model(dataset, detector, config.report_dir)
    decision = promote_model(dataset, test_eval, val_eval, config.promotion)
    export_model(dataset, detector, test_eval, decision, config)

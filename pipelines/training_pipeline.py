"""The training pipeline: latest clip dataset -> train -> evaluate -> promote -> export to BentoML.

zenml pipeline run pipelines.training_pipeline.training_pipeline -c configs/demo_training.yaml
"""

from __future__ import annotations

from zenml import Model, pipeline
from zenml.client import Client

from deepfake_detection.modeling.training_config import TrainingConfig
from deepfake_detection.registry import MODEL_NAME
from steps.deployment.export import export_model
from steps.promotion.promote import promote_model
from steps.training.evaluate import evaluate_model
from steps.training.train import train_model

DETECTOR_MODEL = Model(
    name=MODEL_NAME,
    license="per version, in its model card: a fine-tune inherits its base checkpoint's licence (MCG-NJU's Kinetics "
    "VideoMAE: CC-BY-NC-4.0) and its training data's terms (FaceForensics++: research only)",
    description="VideoMAE (16x224x224 face clips) with a 2-output real/fake head, fine-tuned on FaceForensics++.",
    limitations="Only as good as its training data: check each version's `trained_on` metadata.",
    tags=["deepfake-detection", "videomae"],
)


@pipeline(name="deepfake_training", model=DETECTOR_MODEL, enable_cache=False)
def training_pipeline(config: TrainingConfig):
    dataset = Client().get_artifact_version("clip_dataset")  # the latest validated dataset
    detector, _ = train_model(dataset, config)
    test_eval, val_eval, _ = evaluate_model(dataset, detector, config.report_dir)
    decision = promote_model(dataset, test_eval, val_eval, config.promotion)
    export_model(dataset, detector, test_eval, decision, config)

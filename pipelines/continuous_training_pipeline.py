"""The continuous-training pipeline: retrain from production when drift or new reviews say so, else say why not.

zenml pipeline run pipelines.continuous_training_pipeline.continuous_training_pipeline \
    -c configs/continuous_training.yaml

A ZenML dynamic pipeline (`dynamic=True`): the first step's decision is loaded while the run is going and
decides which steps run, so a run that does not retrain creates no model version and runs no training step
(measured on ZenML 0.98's local orchestrator: the retrain branch's steps share one new model version; the
other branch creates none). The local orchestrator has no schedules; run it from cron after the feedback
pipeline, e.g. nightly at 03:00:

    0 3 * * * cd /path/to/deepfake-videomae && make feedback continuous-training >> .cache/ct.log 2>&1
"""

from __future__ import annotations

from zenml import Model, pipeline
from zenml.client import Client

from deepfake_detection.feedback.config import ContinuousTrainingConfig
from steps.deployment.export import export_model
from steps.feedback.retrain import decide_retraining_step, fine_tune_model, gate_candidate, record_no_retraining
from steps.training.evaluate import evaluate_model


@pipeline(name="deepfake_continuous_training", dynamic=True, enable_cache=False)
def continuous_training_pipeline(config: ContinuousTrainingConfig):
    decision, data_id = decide_retraining_step(config)
    if not decision.load().retrain:
        record_no_retraining(decision, config)
        return
    client = Client()
    dataset = client.get_artifact_version(data_id.load())
    reviewed = client.get_artifact_version(decision.load().signals.reviewed_dataset)
    candidate = Model(name=config.model_name, tags=["deepfake-detection", "videomae", "continuous-training"],
                      description="Fine-tuned from the production version on its data plus reviewed production "
                      "requests (continuous training).")  # fmt: skip
    detector, _ = fine_tune_model.with_options(model=candidate)(dataset, reviewed, decision, config)
    test_eval, _, _ = evaluate_model.with_options(model=candidate)(dataset, detector, config.training.report_dir)
    promotion, _ = gate_candidate.with_options(model=candidate)(
        dataset, reviewed, detector, test_eval, decision, config
    )
    export_model.with_options(model=candidate)(dataset, detector, test_eval, promotion, config.training)

"""The cross-dataset evaluation pipeline: a registry model scored on other datasets' test sets.

zenml pipeline run pipelines.cross_evaluation_pipeline.cross_evaluation_pipeline -c configs/cross_eval_demo.yaml
"""

from __future__ import annotations

from zenml import pipeline

from deepfake_detection.evaluation.cross_dataset import CrossEvalConfig
from steps.evaluation.cross import build_test_catalogs, evaluate_test_sets, publish_cross_evaluation


@pipeline(name="deepfake_cross_evaluation", enable_cache=False)
def cross_evaluation_pipeline(config: CrossEvalConfig):
    catalog = build_test_catalogs(config)
    table, _ = evaluate_test_sets(config, catalog)
    publish_cross_evaluation(config, table)

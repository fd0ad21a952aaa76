"""Cross-evaluate the latest registry version (e.g. the SBI model `make demo-sbi` just trained) with a config's
test sets, then print its table beside the production version's (`make demo-sbi`).

    python scripts/cross_eval_latest.py configs/cross_eval_demo.yaml
"""

from __future__ import annotations

import sys

import pandas as pd
import yaml
from zenml.client import Client

from deepfake_detection.evaluation.cross_dataset import CrossEvalConfig
from deepfake_detection.registry import MODEL_NAME
from pipelines.cross_evaluation_pipeline import cross_evaluation_pipeline

COLUMNS = ["group", "videos", "inconclusive", "video_auc", "auc_ci_low", "auc_ci_high", "video_eer", "accuracy"]


def last_table(version: str) -> pd.DataFrame | None:
    """The table of the last cross-evaluation run of `version:N` (None when there was none)."""
    runs = Client().list_pipeline_runs(pipeline_name="deepfake_cross_evaluation", sort_by="desc:created", size=50)
    for run in runs.items:
        if run.config.parameters and run.config.parameters.get("config", {}).get("model") == f"version:{version}":
            return run.steps["evaluate_test_sets"].outputs["cross_evaluation"][0].load()
    return None


def main(config_path: str) -> None:
    client = Client()
    latest = max(client.list_model_versions(MODEL_NAME, size=100).items, key=lambda v: v.number)
    with open(config_path) as f:
        config = yaml.safe_load(f)["parameters"]["config"]
    cross_evaluation_pipeline(config=CrossEvalConfig(**{**config, "model": f"version:{latest.number}"}))
    try:
        production = str(client.get_model_version(MODEL_NAME, "production").number)
    except KeyError:
        production = None
    if production and last_table(production) is None:
        cross_evaluation_pipeline(config=CrossEvalConfig(**{**config, "model": f"version:{production}"}))
    for version in dict.fromkeys([production, str(latest.number)]):
        table = last_table(version) if version else None
        if table is not None:
            info = client.get_model_version(MODEL_NAME, version).get_artifact("detector").load().info
            sbi = info.get("train_config", {}).get("sbi", {}).get("mode", "off")
            print(f"\n{MODEL_NAME} version {version} (trained on {info.get('trained_on')}; SBI {sbi}):")
            print(table[COLUMNS].round(3).to_string(index=False))
    print("\nDemo data, a tiny model from scratch: this shows the machinery, not how a detector generalises.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "configs/cross_eval_demo.yaml")

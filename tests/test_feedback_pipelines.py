"""The `deepfake_feedback` and `deepfake_continuous_training` pipelines as a user runs them (`zenml pipeline run`),
on the session's throw-away ZenML store: reviewed traffic -> reviewed_dataset -> online evaluation on each version;
continuous training that declines (and says why) and one that retrains on drift, gates and promotes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pytest
from synthetic_clips import make_clip_dataset
from tiny_models import TINY_SCRATCH, tiny_detector
from zenml import Model, log_metadata, pipeline, step
from zenml_runs import run_pipeline

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clips import Clip
from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.feedback.retention import retain_clips
from deepfake_detection.feedback.reviews import ReviewStore, submit_review
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS
from deepfake_detection.monitoring.request_log import RequestLog
from steps.materializers import ClipDatasetMaterializer, DetectorMaterializer

pytestmark = pytest.mark.slow
NAME = "deepfake-videomae-feedback-test"
SIZE = 32


def features(n: int, width: float, rng) -> pd.DataFrame:
    """Drift features of `n` videos around `width` (16:9, bitrate and blockiness following the size)."""
    w = rng.normal(width, width * 0.03, n)
    return pd.DataFrame({"width": w, "height": w * 9 / 16, "pixels": w * w * 9 / 16, "fps": 25.0, "duration_s": 10.0,
                         "bitrate": w * 2000, "bits_per_pixel": rng.normal(0.1, 0.01, n) * width / 1280,
                         "blockiness": rng.normal(1.1, 0.02, n) * (1280 / width) ** 0.1, "sharpness": w / 10,
                         "face_size": w / 8, "codec": "h264", "pixel_format": "yuv420p"})[FEATURE_COLUMNS]  # fmt: skip


@step(output_materializers={"clip_dataset": ClipDatasetMaterializer, "detector": DetectorMaterializer})
def publish_production(
    root: str,
) -> tuple[
    Annotated[ClipDataset, "clip_dataset"], Annotated[Detector, "detector"], Annotated[pd.DataFrame, "drift_reference"]
]:
    """Stands in for the data and training pipelines: a clip dataset, the version's detector and drift reference."""
    dataset = make_clip_dataset(Path(root), n_per_class=4, size=SIZE)
    detector = tiny_detector(dataset.params)
    detector.info.update(data_hash=dataset.content_hash)
    log_metadata({"training": {"clip_geometry": dataset.params.geometry().model_dump(),
                               "data_hash": dataset.content_hash, "trained_on": dataset.source}},
                 infer_model=True)  # fmt: skip
    reference = features(30, 1280, np.random.default_rng(1)).assign(label="real", method="original")
    return dataset, detector, reference


@pipeline(enable_cache=False)
def register_production(root: str):
    publish_production(root)


@pytest.fixture(scope="module")
def loop(tmp_path_factory, repo_root):
    """A production version 1, 16 answered requests with retained clips, and a simulated review of each."""
    from zenml.client import Client

    tmp = tmp_path_factory.mktemp("loop")
    register_production.with_options(model=Model(name=NAME))(str(tmp / "data"))
    version = Client().get_model_version(NAME, "latest")
    Client().update_model_version(NAME, version.id, stage="production", force=True)
    data = make_clip_dataset(tmp / "traffic_clips", n_per_class=4, size=SIZE, seed=7)  # other clips: the traffic
    log, store = RequestLog(tmp / "log"), ReviewStore(f"sqlite:///{tmp / 'reviews.sqlite'}")
    shifted = features(16, 480, np.random.default_rng(2))  # served traffic: smaller and more compressed
    traffic = data.table[data.table.split != "train"].reset_index(drop=True)  # 16 clips, 8 real, 8 fake
    params = ClipParams(size=SIZE, clips_per_video=1)
    for i, row in traffic.iterrows():
        request_id = f"req{i:02d}"
        log.append({"request_id": request_id, "model_name": NAME, "model_version": "1", "verdict": "real",
                    "p_fake": 0.5, **shifted.iloc[i].to_dict()})  # fmt: skip
        pixels = data.load_clip(row.clip_path)
        clip = Clip(0, 0, 0, list(range(16)), [(0, 0, SIZE, SIZE)] * 16, 40.0, 1.0, 0.0, 0.64, np.asarray(pixels))
        retain_clips(tmp / "retained", params, request_id, [clip], days=30, model_version="1")
        submit_review(store, [tmp / "log"], request_id, "confirmed_fake" if row.is_fake else "actually_real",
                      "demo labels", source="simulated")  # fmt: skip
    log.append({"request_id": "req-unsure", "model_name": NAME, "model_version": "1", "verdict": "real"})
    submit_review(store, [tmp / "log"], "req-unsure", "unsure", "demo labels", source="simulated")  # excluded
    feedback = {"model_name": NAME, "reviews_url": store.url, "request_log_dirs": [str(tmp / "log")],
                "retained_clips": str(tmp / "retained"), "holdout_fraction": 0.25, "bootstrap": 50,
                "workspace": str(tmp / "evidently"), "reports_dir": str(tmp / "reports"),
                "run_name": "test"}  # fmt: skip
    proc = run_pipeline(repo_root, tmp, "pipelines.feedback_pipeline.feedback_pipeline", "feedback", feedback)
    return {"tmp": tmp, "feedback": proc, "shifted": shifted}


def test_feedback_pipeline_builds_the_reviewed_dataset_and_evaluates_each_version(loop):
    from zenml.client import Client

    proc = loop["feedback"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "SIMULATED reviews" in log and "no staging version" in log  # only production exists yet
    run = Client().get_pipeline("deepfake_feedback").last_run
    reviewed = run.steps["build_reviewed"].outputs["reviewed_dataset"][0].load()
    summary = reviewed.summary()
    assert summary["requests"] == 16 and summary["contracts_passed"] and summary["simulated_reviews"]
    assert summary["excluded"] == {"only unsure reviews": 1}
    assert reviewed.excluded.request_id.tolist() == ["req-unsure"]
    assert summary["per_split_label"] and sum(v for k, v in summary["per_split_label"].items()
                                              if k.startswith("holdout")) == 4  # fmt: skip
    table = run.steps["evaluate_online"].outputs["online_evaluation"][0].load()
    assert set(zip(table.model, table.split, strict=True)) == {("production", "all"), ("production", "holdout")}
    assert table.set_index("split").loc["all", ["confirmed_fake", "actually_real"]].tolist() == [8, 8]
    meta = Client().get_model_version(NAME, "1").run_metadata["online_evaluation"]
    assert meta["all"]["requests"] == 16 and meta["simulated_reviews"] is True and "holdout" in meta
    assert list((loop["tmp"] / "reports").glob("online_*_production_v1.html"))
    from evidently.ui.workspace import Workspace

    (project,) = Workspace.create(str(loop["tmp"] / "evidently")).search_project("deepfake-videomae online evaluation")
    assert project is not None


def test_continuous_training_declines_then_retrains_on_drift(loop, repo_root):
    from zenml.client import Client

    from deepfake_detection.monitoring.drift import MonitoringConfig
    from pipelines.monitoring_pipeline import monitoring_pipeline

    tmp = loop["tmp"]
    config = {"model_name": NAME, "triggers": {"min_new_reviews": 1000}, "bootstrap": 50,
              "gate": {"max_test_auc_drop": 1.0, "max_holdout_drop": 1.0}, "request_log_dirs": [str(tmp / "log")],
              "training": {"train": {"model": {"scratch": TINY_SCRATCH}, "epochs": 1, "batch_size": 8,
                                     "unfreeze": {0: 100}, "augment": {"jpeg": 0.0}},
                           "work_dir": str(tmp / "work"), "report_dir": str(tmp / "plots"),
                           "export_to_bentoml": False}}  # fmt: skip
    pipeline = "pipelines.continuous_training_pipeline.continuous_training_pipeline"
    # 1. no monitoring verdict yet, 16 reviews < 1000: no retraining, said so on the production version
    quiet = run_pipeline(repo_root, tmp, pipeline, "ct-quiet", config)
    assert quiet.returncode == 0, quiet.stdout[-3000:] + quiet.stderr[-3000:]
    record = Client().get_model_version(NAME, "1").run_metadata["continuous_training"]
    assert record["decision"] == "no retraining"
    assert "no monitoring verdict" in record["retraining"]["reasons"][0] and "fewer than 1000" in (
        record["retraining"]["reasons"][0])  # fmt: skip
    assert len(Client().list_model_versions(NAME).items) == 1  # no version made for a run that did not train
    steps = Client().get_pipeline("deepfake_continuous_training").last_run.steps
    assert set(steps) == {"decide_retraining_step", "record_no_retraining"}
    # 2. the monitoring pipeline compares the shifted traffic with version 1's reference: drift alarmed
    monitoring = MonitoringConfig(model_name=NAME, request_log_dir=str(tmp / "log"), workspace=str(tmp / "evidently"),
                                  reports_dir=str(tmp / "drift"), run_name="ct-test")  # fmt: skip
    monitoring_pipeline.with_options(enable_cache=False)(monitoring)
    retrain = run_pipeline(repo_root, tmp, pipeline, "ct-drift", config)
    log = retrain.stdout + retrain.stderr
    assert retrain.returncode == 0, log[-4000:]
    assert "RETRAIN: drift alarmed for production version 1" in log
    assert "12 of them from 12 reviewed requests; 4 held-out requests never used" in log
    versions = {v.name: v for v in Client().list_model_versions(NAME).items}
    assert set(versions) == {"1", "2"}
    v2 = Client().get_model_version(NAME, "2")
    record = v2.run_metadata["continuous_training"]
    assert record["decision"] == "retrained and promoted" and str(v2.stage) == "production"
    assert str(Client().get_model_version(NAME, "1").stage) == "archived"
    gate = record["gate"]
    assert gate["holdout_requests"] == 4 and gate["production_test_auc"] is not None
    assert any("shadow check not applied" in r for r in gate["reasons"])
    training = v2.run_metadata["training"]
    assert training["fine_tuned_from"] == "1" and training["reviewed_requests_used"] == 12
    assert "(simulated reviews)" in training["trained_on"]
    reference = v2.get_artifact("drift_reference").load()
    assert len(reference) == 30 + 12 and (reference.method == "reviewed traffic").sum() == 12
    detector = v2.get_artifact("detector").load()
    assert detector.info["base_model"].startswith(f"{NAME} version 1")
    assert json.loads(json.dumps(record))  # plain JSON in the registry

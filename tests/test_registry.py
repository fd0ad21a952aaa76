"""Promotion in the real ZenML Model Control Plane, and the export to the real BentoML store."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_clips import make_clip_dataset
from zenml_runs import run_pipeline

from deepfake_detection.registry import PromotionParams, decide_promotion

pytestmark = pytest.mark.slow

TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
NO_AUG = {"jpeg": 0.0, "saturation": 0.0, "brightness": 0.0, "contrast": 0.0}


def test_gate_lists_every_failed_condition():
    gate = PromotionParams(min_val_auc=0.8, min_test_auc=0.8, min_improvement=0.01)
    d = decide_promotion(gate, contracts_passed=False, val_auc=0.7, test_auc=0.85, production_auc=0.845)
    assert not d.promoted and d.stage == "staging"
    assert len(d.reasons) == 3  # contracts, validation AUC, not better than production by the margin
    assert decide_promotion(gate, True, 0.9, 0.9, None).reasons == ["first production version"]
    assert decide_promotion(gate, True, 0.9, 0.9, 0.85, "3").promoted


def _train_run(repo_root, tmp_path, name, lr, seed, epochs, fast_path=True):
    config = {
        "train": {"model": {"scratch": TINY}, "epochs": epochs, "batch_size": 8, "lr": lr, "lr_decay": 1.0,
                  "unfreeze": {0: 100}, "patience": 12, "seed": seed, "augment": NO_AUG},
        "promotion": {"min_val_auc": 0.0, "min_test_auc": 0.0},
        "work_dir": str(tmp_path / "training"),
        "report_dir": str(tmp_path / "reports"),
    }  # fmt: skip
    if not fast_path:
        config["fast_path"] = {"precision": "none"}
    proc = run_pipeline(repo_root, tmp_path, "pipelines.training_pipeline.training_pipeline", name, config)
    log = proc.stdout + proc.stderr
    errors = [line for line in log.splitlines() if "Error" in line or "error" in line]
    assert proc.returncode == 0, "\n".join(errors[-15:]) + log[-2000:]
    return log


def test_worse_model_stays_staging_better_one_replaces_production(repo_root, tmp_path):
    import bentoml
    from zenml import save_artifact
    from zenml.client import Client

    from deepfake_detection.modeling.detector import Detector
    from steps.materializers import ClipDatasetMaterializer

    dataset = make_clip_dataset(tmp_path / "clips", n_per_class=60, size=64, shift=40, light=0.0)
    save_artifact(dataset, name="clip_dataset", materializer=ClipDatasetMaterializer)

    # lr 0 leaves the random initialisation: a useless model (AUC ~0.5), the trained one reaches ~0.9
    # the first production version, exported without a fast path (built and checked for b below: CI's time)
    _train_run(repo_root, tmp_path, "untrained-a", lr=0.0, seed=0, epochs=1, fast_path=False)
    log_b = _train_run(repo_root, tmp_path, "trained-b", lr=1e-3, seed=0, epochs=12)
    log_c = _train_run(repo_root, tmp_path, "untrained-c", lr=0.0, seed=1, epochs=1)
    assert "re-scored on the same 120 test clips" in log_b
    assert "beats production version" in log_b
    assert "does not beat production version" in log_c

    versions = sorted(Client().list_model_versions("deepfake-videomae", size=50).items, key=lambda v: v.number)
    a, b, c = versions[-3:]
    assert (a.stage, b.stage, c.stage) == ("archived", "production", "staging")
    assert b.run_metadata["promotion"]["promoted"] is True
    assert b.run_metadata["threshold"] == pytest.approx(b.get_artifact("detector").load().threshold)

    bento_model = bentoml.models.get("deepfake-videomae:latest")
    assert bento_model.info.labels["zenml_model_version"] == str(b.name)
    exported = Detector.load(bento_model.path, backend="torch")  # the fp32 reference, whatever the fast path
    trained = b.get_artifact("detector").load()
    clips = np.stack([np.asarray(dataset.load_clip(p)) for p in dataset.split("test").clip_path[:4]])
    np.testing.assert_allclose(exported.score(clips), trained.score(clips), atol=1e-6)
    assert exported.threshold == trained.threshold
    check = b.run_metadata["fast_path"]  # built and checked at export on validation clips, kept or not
    assert check["clips"] == 64 and check["passed"] == (Detector.load(bento_model.path).backend != "torch-fp32")
    assert check["passed"] or check["reason"]
    with open(bento_model.path_of("README.md")) as card:
        assert "trained on: synthetic test clips" in card.read()

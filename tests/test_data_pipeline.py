"""The ZenML data pipeline end to end on the demo data, on the session's temporary local ZenML store."""

from __future__ import annotations

import pytest
from zenml_runs import run_pipeline

pytestmark = pytest.mark.slow


def _run_pipeline(repo_root, tmp_path, name, config):
    return run_pipeline(repo_root, tmp_path, "pipelines.data_pipeline.data_pipeline", name, config)


def _config(tmp_path, **overrides):
    return {
        "ffpp_root": str(tmp_path / "demo_ffpp"),
        "clip_store": str(tmp_path / "clips"),
        "demo": {"pairs": {"train": 2, "val": 1, "test": 1}, "frames": 32, "seed": 1},
        "clips": {"clips_per_video": 2},
        **overrides,
    }


def test_data_pipeline_runs_end_to_end(repo_root, tmp_path):
    proc = _run_pipeline(repo_root, tmp_path, "demo", _config(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "extract clips: 48/48 (100%)" in log  # progress is shown

    from zenml.client import Client

    run = Client().get_pipeline("deepfake_data").last_run
    assert run.status == "completed"
    dataset = run.steps["build_dataset"].outputs["clip_dataset"][0].load()
    summary = dataset.summary()
    assert summary["clips"] > 50 and summary["videos"] > 30
    assert {"train/real", "train/fake", "val/real", "test/fake"} <= set(summary["per_split_label"])
    assert dataset.load_clip(dataset.table.clip_path[0]).shape == (16, 224, 224, 3)
    report = run.steps["validate_clips"].outputs["contract_report"][0].load()
    assert report.success and {r.suite for r in report.results} == {"clips", "identity_splits"}


def test_contract_failure_stops_the_pipeline_and_keeps_the_report(repo_root, tmp_path):
    # Only originals: the class-balance expectation fails, so no clip is ever extracted.
    proc = _run_pipeline(repo_root, tmp_path, "onlyreal", _config(tmp_path, methods=["original"]))
    assert proc.returncode != 0
    assert "expect_column_mean_to_be_between [is_fake]" in proc.stdout + proc.stderr

    from zenml.client import Client

    run = Client().get_pipeline("deepfake_data").last_run
    assert run.status == "failed"
    assert "extract_clips" not in run.steps or run.steps["extract_clips"].status != "completed"
    report = run.steps["validate_videos"].outputs["contract_report"][0].load()
    assert not report.success
    assert not (tmp_path / "clips").exists()

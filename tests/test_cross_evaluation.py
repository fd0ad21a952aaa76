"""The cross-dataset evaluation pipeline end to end on demo data, on the session's temporary ZenML store."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_models import tiny_detector
from zenml_runs import run_pipeline

from deepfake_detection.config import ClipParams
from deepfake_detection.evaluation.cross_dataset import add_to_card, metrics_rows, video_table

pytestmark = pytest.mark.slow


def test_cross_evaluation_pipeline_on_the_demo_set(small_demo, repo_root, tmp_path):
    folder = tiny_detector(ClipParams()).save(tmp_path / "model", card="---\n{}\n---\n# card\n")
    config = {
        "model": str(folder),
        "test_sets": [
            {"name": "demo", "adapter": "ffpp", "root": str(small_demo), "splits_dir": str(small_demo / "splits")},
            {"name": "Celeb-DF-v2", "adapter": "celebdf", "root": str(tmp_path / "not_here")},
        ],
        "clip_store": str(tmp_path / "clips"), "clips_per_video": 2, "bootstrap": 50, "engine": "local",
    }  # fmt: skip
    pipeline = "pipelines.cross_evaluation_pipeline.cross_evaluation_pipeline"
    proc = run_pipeline(repo_root, tmp_path, pipeline, "cross", config)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "Celeb-DF-v2: no celebdf data" in log and "extract test clips: 12/12 (100%)" in log

    from zenml.client import Client

    run = Client().get_pipeline("deepfake_cross_evaluation").last_run
    table = run.steps["evaluate_test_sets"].outputs["cross_evaluation"][0].load()
    assert list(table["group"]) == ["all", "method=DemoFaceSwap", "method=DemoSelfBlend"]
    assert (table["dataset"] == "demo").all() and table.loc[0, "videos"] == 12 and table.loc[0, "fake"] == 8
    assert table["video_auc"].between(0, 1).all() and (table["auc_ci_low"] <= table["auc_ci_high"]).all()
    report = run.steps["evaluate_test_sets"].outputs["cross_evaluation_report"][0].load()
    assert "<img src='data:image/png;base64," in report and "inconclusive" in report
    card = (folder / "README.md").read_text()
    assert "cross_evaluation: true" in card and "## Cross-dataset evaluation" in card


def test_inconclusive_videos_are_counted_not_scored():
    catalog = pd.DataFrame({"video_id": ["r1", "r2", "f1", "f2"], "is_fake": [0, 0, 1, 1],
                            "method": ["original", "original", "X", "X"], "dataset": "d"})  # fmt: skip
    clips = pd.DataFrame({"video_id": ["r1", "f1", "f2", "f2"], "face_index": 0, "p_fake": [0.2, 0.7, 0.9, 0.5],
                          "is_fake": [0, 1, 1, 1]})  # fmt: skip
    videos = video_table(catalog, clips)
    (row, _) = metrics_rows("d", videos, clips, threshold=0.5, n_boot=0)
    assert (row["videos"], row["inconclusive"], row["video_auc"]) == (4, 1, 1.0)  # r2 had no clip
    card = add_to_card("---\nmodel-index:\n- name: m\n  results: []\n---\n# card\n", pd.DataFrame([row]))
    assert card.count("## Cross-dataset evaluation") == 1 and "video AUC" in card
    assert add_to_card(card, pd.DataFrame([row])).count("## Cross-dataset evaluation") == 1  # replaced, not stacked

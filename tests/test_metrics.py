"""Metric functions against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from deepfake_detection.metrics.binary import (
    binary_metrics,
    bootstrap_auc,
    choose_threshold,
    eer,
    expected_calibration_error,
    grouped_metrics,
    save_plots,
)
from deepfake_detection.metrics.video_rule import video_scores


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 400), 0, 1)
    return y, p


def test_binary_metrics_agree_with_sklearn(scored):
    y, p = scored
    m = binary_metrics(y, p, 0.5)
    pred = (p >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["ap"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    assert (m["n"], m["n_real"], m["n_fake"]) == (400, int((y == 0).sum()), int((y == 1).sum()))


def test_eer_ece_and_threshold_on_hand_made_cases():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    assert eer(y, p) == pytest.approx(0.25)  # one real above, one fake below any threshold in (0.4, 0.6)
    assert choose_threshold(y, p) == pytest.approx(0.7)  # Youden's J: tpr 0.75, fpr 0 at 0.7
    assert expected_calibration_error(np.array([1, 1, 0, 0]), np.array([1.0, 1.0, 0.0, 0.0])) == 0
    # all scores 0.75 in one bin, half of them fake: |0.5 - 0.75|
    assert expected_calibration_error(np.array([1, 0, 1, 0]), np.full(4, 0.75)) == pytest.approx(0.25)


def test_bootstrap_interval_contains_the_auc(scored):
    y, p = scored
    lo, hi = bootstrap_auc(y, p, n=300)
    auc = skm.roc_auc_score(y, p)
    assert lo < auc < hi and hi - lo < 0.2


def test_video_level_is_mean_over_clips_then_max_over_faces():
    clips = pd.DataFrame(
        {
            "video_id": ["a", "a", "a", "a", "b", "b"],
            "face_index": [0, 0, 1, 1, 0, 0],
            "p_fake": [0.1, 0.3, 0.9, 0.5, 0.2, 0.4],
            "is_fake": [1, 1, 1, 1, 0, 0],
            "method": ["X"] * 4 + ["original"] * 2,
            "compression": ["c23"] * 6,
        }
    )
    videos = video_scores(clips).set_index("video_id")
    assert videos.loc["a", "p_fake"] == pytest.approx(0.7)  # face 1: mean(0.9, 0.5) beats face 0: 0.2
    assert videos.loc["b", "p_fake"] == pytest.approx(0.3)


def test_grouped_metrics_per_method_use_all_reals(scored, tmp_path):
    y, p = scored
    table = pd.DataFrame({"is_fake": y, "p_fake": p, "method": np.where(y == 1, ["A", "B"] * 200, "original"),
                          "compression": ["c23", "c40"] * 200})  # fmt: skip
    g = grouped_metrics(table, 0.5).set_index("group")
    assert set(g.index) == {"all", "method=A", "method=B", "compression=c23", "compression=c40"}
    assert g.loc["method=A", "n_real"] == (y == 0).sum()
    assert g.loc["method=A", "n_fake"] == ((y == 1) & (table.method == "A")).sum()
    paths = save_plots(table, 0.5, tmp_path, "t")
    assert [p.name for p in paths] == ["roc_t.png", "confusion_t.png", "scores_t.png"]
    assert all(p.stat().st_size > 5000 for p in paths)

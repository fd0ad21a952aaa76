"""Evaluate a detector on a split of a clip dataset: clip and video level, per method and compression.

The threshold comes from the detector (chosen on validation); test data never moves it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.metrics.binary import bootstrap_auc, grouped_metrics, save_plots
from deepfake_detection.metrics.video_rule import video_scores
from deepfake_detection.modeling.detector import Detector, score_table


class Evaluation(BaseModel):
    split: str
    threshold: float
    clip: list[dict]  # grouped_metrics rows at clip level
    video: list[dict]  # and at video level
    clip_auc_ci: tuple[float, float]
    video_auc_ci: tuple[float, float]
    plots: list[str]

    def headline(self, level: str = "clip") -> dict:
        rows = self.clip if level == "clip" else self.video
        return next(r for r in rows if r["group"] == "all")

    def table(self) -> pd.DataFrame:
        """The metrics table people read: one row per level and group."""
        cols = ["level", "group", "n", "n_real", "n_fake", "accuracy", "f1", "auc", "ap", "eer", "log_loss", "ece"]
        rows = [{"level": "clip", **r} for r in self.clip] + [{"level": "video", **r} for r in self.video]
        return pd.DataFrame(rows)[cols]


def evaluate(detector: Detector, dataset: ClipDataset, split: str, plot_dir: str | Path) -> Evaluation:
    table = dataset.split(split).assign(p_fake=lambda t: score_table(detector, dataset, t))
    videos = video_scores(table)
    th = detector.threshold
    plots = save_plots(table, th, plot_dir, f"{split}_clips") + save_plots(videos, th, plot_dir, f"{split}_videos")
    return Evaluation(
        split=split,
        threshold=th,
        clip=grouped_metrics(table, th).to_dict("records"),
        video=grouped_metrics(videos, th).to_dict("records"),
        clip_auc_ci=bootstrap_auc(table.is_fake, table.p_fake),
        video_auc_ci=bootstrap_auc(videos.is_fake, videos.p_fake),
        plots=[str(p) for p in plots],
    )


def report_html(evaluation: Evaluation, title: str) -> str:
    """The evaluation as one self-contained HTML page (metrics table and embedded plots)."""
    images = "".join(
        f'<img style="max-width:32%" src="data:image/png;base64,{base64.b64encode(Path(p).read_bytes()).decode()}"/>'
        for p in evaluation.plots
        if Path(p).is_file()
    )
    lo, hi = evaluation.clip_auc_ci
    return (
        f"<h2>{title}</h2><p>split={evaluation.split}, threshold={evaluation.threshold:.3f} (chosen on validation), "
        f"clip AUC 95% CI [{lo:.3f}, {hi:.3f}]</p>{evaluation.table().round(4).to_html(index=False)}{images}"
    )

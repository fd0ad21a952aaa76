"""Cross-dataset evaluation: a model scored on other datasets' test sets, the way researchers report it.

Each configured test set (`datasets.sources`: Celeb-DF-v2, DFDC, DFD, FF++ or the demo set) is cut into clips
by the same extraction as training (the model's crop geometry, the run's face settings, the clip store, Ray)
and scored by the same detector. Video level: the mean p(fake) of a person's clips, then the maximum over the
video's persons (`metrics.video_rule.video_scores`); `video_id` names the method's folder, so two methods that
share a file name stay two videos (DeepfakeBench merges them). Clip level is reported too. A video that gives no
clip (no face, too short, unreadable) is **inconclusive**: it is left out of AUC, AP and EER, and each row says
how many there were. Accuracy and F1 are taken at the model's validation threshold; the AUC has a 95 %
percentile-bootstrap interval over videos. Each test set gets an `all` row and one row per fake method (its
fakes against all the set's reals).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field
from sklearn import metrics as skm

from deepfake_detection.config import AnalysisParams, Placement
from deepfake_detection.metrics.binary import binary_metrics, bootstrap_auc, eer
from deepfake_detection.metrics.video_rule import video_scores

ROW_COLUMNS = [
    "dataset", "group", "videos", "real", "fake", "inconclusive", "video_auc", "auc_ci_low", "auc_ci_high",
    "video_ap", "video_eer", "accuracy", "f1", "clips", "clip_auc", "threshold",
]  # fmt: skip


class TestSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="how the table names it, e.g. Celeb-DF-v2")
    adapter: str = Field(description="ffpp, dfd, celebdf or dfdc (datasets.sources)")
    root: str
    split: str = "test"
    methods: list[str] | None = Field(None, description="keep only these methods (and the reals)")
    compressions: list[str] | None = Field(None, description="FF++ layouts: keep only these (c0, c23, c40)")
    splits_dir: str | None = Field(None, description="FF++ layouts: the split files (demo: its own)")


class CrossEvalConfig(Placement, AnalysisParams):
    """The `deepfake_cross_evaluation` pipeline's run configuration: test sets, scored as a deployment would
    (`AnalysisParams`), their clips kept and made where `Placement` says."""

    model: str = Field("production", description="production, version:N, a BentoML tag or a model folder")
    test_sets: list[TestSet]
    bootstrap: int = Field(1000, ge=0)
    update_card: bool = Field(True, description="add the results to the exported model's card")


def video_table(catalog: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """One row per catalog video: p_fake from its clips (NaN = inconclusive), label and method."""
    scored = video_scores(clips) if not clips.empty else pd.DataFrame(columns=["video_id", "p_fake"])
    keep = ["video_id", "is_fake", "method", "dataset"]
    return catalog[keep].merge(scored[["video_id", "p_fake"]], on="video_id", how="left")


def metrics_rows(name: str, videos: pd.DataFrame, clips: pd.DataFrame, threshold: float, n_boot: int) -> list[dict]:
    """The `all` row and one row per fake method of one test set."""
    rows = []
    reals = videos[videos["is_fake"] == 0]
    groups = [("all", videos, clips)]
    for method in sorted(videos.loc[videos["is_fake"] == 1, "method"].unique()):
        part = pd.concat([reals, videos[(videos["is_fake"] == 1) & (videos["method"] == method)]])
        part_clips = clips[clips["video_id"].isin(part["video_id"])] if not clips.empty else clips
        groups.append((f"method={method}", part, part_clips))
    for group, part, part_clips in groups:
        decided = part[part["p_fake"].notna()]
        y, p = decided["is_fake"].to_numpy(), decided["p_fake"].to_numpy()
        both = len(np.unique(y)) == 2
        lo, hi = bootstrap_auc(y, p, n=n_boot) if both and n_boot else (np.nan, np.nan)
        at = binary_metrics(y, p, threshold) if len(y) else {"accuracy": np.nan, "f1": np.nan}
        clip_both = not part_clips.empty and part_clips["is_fake"].nunique() == 2
        rows.append({
            "dataset": name, "group": group, "videos": len(part), "real": int((part["is_fake"] == 0).sum()),
            "fake": int((part["is_fake"] == 1).sum()), "inconclusive": int(part["p_fake"].isna().sum()),
            "video_auc": float(skm.roc_auc_score(y, p)) if both else np.nan, "auc_ci_low": lo, "auc_ci_high": hi,
            "video_ap": float(skm.average_precision_score(y, p)) if both else np.nan,
            "video_eer": eer(y, p) if both else np.nan, "accuracy": at["accuracy"], "f1": at["f1"],
            "clips": len(part_clips),
            "clip_auc": float(skm.roc_auc_score(part_clips["is_fake"], part_clips["p_fake"])) if clip_both else np.nan,
            "threshold": threshold,
        })  # fmt: skip
    return rows


def render(table: pd.DataFrame, title: str) -> tuple[bytes, str]:
    """(PNG bytes, HTML page): video AUC with its 95 % interval per test set and group, and the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{d}\n{g}" for d, g in zip(table["dataset"], table["group"], strict=True)]
    auc = table["video_auc"].to_numpy(float)
    err = np.vstack([auc - table["auc_ci_low"].to_numpy(float), table["auc_ci_high"].to_numpy(float) - auc])
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(table)), 4))
    ax.bar(range(len(table)), np.nan_to_num(auc), yerr=np.nan_to_num(err), capsize=4, color="#4c72b0")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(table)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("video AUC (95% CI)")
    ax.set_title(title)
    for i, (value, n) in enumerate(zip(auc, table["inconclusive"], strict=True)):
        ax.text(i, 0.02, f"{value:.3f}\n{n} inc.", ha="center", fontsize=7, color="white")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    png = buf.getvalue()
    html = (f"<h3>{title}</h3><img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"
            f"{table.round(4).to_html(index=False)}<p>inconclusive: videos with no clip (no face, too short, "
            "unreadable), left out of AUC/AP/EER.</p>")  # fmt: skip
    return png, html


def add_to_card(card: str, table: pd.DataFrame) -> str:
    """The model card with the cross-dataset rows as extra `model-index` results and a section of its own."""
    if not card.startswith("---\n"):
        card = "---\n{}\n---\n" + card
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front) or {}
    index = meta.setdefault("model-index", [{"name": "deepfake-videomae", "results": []}])
    results = [r for r in index[0].get("results", []) if not r.get("dataset", {}).get("cross_evaluation")]
    for row in table[table["group"] == "all"].itertuples():
        results.append({
            "task": {"type": "video-classification", "name": "deepfake detection"},
            "dataset": {"name": row.dataset, "type": row.dataset.lower(), "split": "test", "cross_evaluation": True},
            "metrics": [{"type": "auc", "name": "video AUC", "value": round(float(row.video_auc), 4)},
                        {"type": "auc", "name": "clip AUC", "value": round(float(row.clip_auc), 4)}],
        })  # fmt: skip
    index[0]["results"] = results
    body = body.split("\n## Cross-dataset evaluation\n")[0].rstrip() + "\n"
    section = (
        "\n## Cross-dataset evaluation\n\nVideo level: mean over a person's clips, max over persons; inconclusive "
        "videos (no clip) are left out of AUC and counted.\n\n"
        + table.round(4).to_markdown(index=False) + "\n"
    )  # fmt: skip
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}{section}"

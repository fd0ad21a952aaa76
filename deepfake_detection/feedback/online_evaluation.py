"""Online evaluation: registry models scored on the reviewed production traffic (`reviewed_dataset`).

The honest measure of a detector in use is how it does on the traffic it actually gets, labelled by people.
Each model scores the retained clips of every labelled request through the one scoring path
(`modeling.detector.score_table`); a request's p(fake) follows the evaluation rule (mean over a person's clips,
max over persons; `metrics.binary.video_scores`). Per split (`all`, `holdout`): video AUC with a 95 %
percentile-bootstrap interval, AP, precision and recall of `fake` at the model's own threshold, accuracy, F1,
and the counts per label. `live_offline_max_diff` compares the p(fake) the service logged with the one scored
now from the retained clips, for the requests that version answered: near 0 says the retained clips are what
the service scored.

Numbers on demo traffic reviewed from the demo's own labels are simulated reviews of synthetic data: they show
the loop works, nothing about real deepfakes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset
from deepfake_detection.metrics.binary import binary_metrics, bootstrap_auc
from deepfake_detection.metrics.video_rule import video_scores
from deepfake_detection.modeling.detector import Detector, score_table

ONLINE_COLUMNS = [
    "model", "model_version", "split", "requests", "confirmed_fake", "actually_real", "video_auc", "auc_ci_low",
    "auc_ci_high", "ap", "precision", "recall", "accuracy", "f1", "threshold", "clips", "live_offline_max_diff",
]  # fmt: skip


def score_requests(detector: Detector, dataset: ReviewedDataset, split: str | None = None) -> pd.DataFrame:
    """One row per labelled request of `split` (None: all): request_id, is_fake, split, p_fake, clips,
    live_p_fake and live_model_version (what the service answered)."""
    clips = dataset.split(split)
    if clips.empty:
        return pd.DataFrame(columns=["request_id", "is_fake", "split", "p_fake", "clips", "live_p_fake",
                                     "live_model_version"])  # fmt: skip
    clips = clips.assign(p_fake=score_table(detector, dataset, clips))
    videos = video_scores(clips).rename(columns={"video_id": "request_id"})
    counts = clips.groupby("request_id").size().rename("clips")
    live = dataset.requests.set_index("request_id")[["p_fake", "model_version"]].add_prefix("live_")
    live["live_model_version"] = live["live_model_version"].astype(str)
    return (
        videos[["request_id", "is_fake", "split", "p_fake"]].join(counts, on="request_id").join(live, on="request_id")
    )


def online_metrics(scores: pd.DataFrame, threshold: float, n_boot: int = 1000) -> dict:
    """The metrics of one model on scored requests (`score_requests`); threshold-free ones are NaN for one
    class. AUC, AP, precision and recall treat `fake` (confirmed_fake) as the positive class."""
    y, p = scores["is_fake"].to_numpy(int), scores["p_fake"].to_numpy(float)
    both = len(np.unique(y)) == 2
    pred = (p >= threshold).astype(int)
    at = binary_metrics(y, p, threshold) if len(y) else {"accuracy": np.nan, "f1": np.nan}
    lo, hi = bootstrap_auc(y, p, n=n_boot) if both and n_boot else (np.nan, np.nan)
    return {
        "requests": len(y), "confirmed_fake": int((y == 1).sum()), "actually_real": int((y == 0).sum()),
        "video_auc": float(skm.roc_auc_score(y, p)) if both else np.nan, "auc_ci_low": lo, "auc_ci_high": hi,
        "ap": float(skm.average_precision_score(y, p)) if both else np.nan,
        "precision": float(skm.precision_score(y, pred, zero_division=0)) if len(y) else np.nan,
        "recall": float(skm.recall_score(y, pred, zero_division=0)) if (y == 1).any() else np.nan,
        "accuracy": at["accuracy"], "f1": at["f1"], "threshold": float(threshold),
        "clips": int(scores["clips"].sum()) if len(y) else 0,
    }  # fmt: skip


def evaluate_models(
    models: dict[str, tuple[Detector, str]],
    dataset: ReviewedDataset,
    splits: tuple[str | None, ...] = (None, "holdout"),
    n_boot: int = 1000,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(one row per model and split in ONLINE_COLUMNS, each model's per-request scores on all requests).

    `models`: a name ("production", "staging") -> (detector, registry version).
    """
    rows, scored = [], {}
    for name, (detector, version) in models.items():
        every = score_requests(detector, dataset)
        scored[name] = every
        for split in splits:
            part = every if split is None else every[every["split"] == split]
            answered = part[part["live_model_version"] == str(version)]
            diff = float((answered["p_fake"] - answered["live_p_fake"]).abs().max()) if len(answered) else np.nan
            metrics = online_metrics(part, detector.threshold, n_boot)
            rows.append({"model": name, "model_version": str(version), "split": split or "all", **metrics,
                         "live_offline_max_diff": diff})  # fmt: skip
    return pd.DataFrame(rows, columns=ONLINE_COLUMNS), scored


def metadata(table: pd.DataFrame, model: str, dataset: ReviewedDataset) -> dict:
    """What is attached to a model version as `online_evaluation`: its rows by split, and the set it was on."""
    own = table[table["model"] == model].drop(columns=["model", "model_version"])
    per_split = {r["split"]: {k: _plain(v) for k, v in r.items() if k != "split"} for r in own.to_dict("records")}
    return {**per_split, "reviewed_dataset": dataset.content_hash, "excluded": dataset.summary()["excluded"],
            "simulated_reviews": dataset.simulated, "rule": dataset.rule}  # fmt: skip


def classification_snapshot(scores: pd.DataFrame, threshold: float):
    """Evidently's classification report (quality, per label, ROC, PR, confusion matrix) of one model's scores."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    target = np.where(scores["is_fake"].astype(int) == 1, "confirmed_fake", "actually_real")
    data = pd.DataFrame({"target": target, "p_fake": scores["p_fake"].astype(float)})
    definition = DataDefinition(
        classification=[BinaryClassification(target="target", prediction_probas="p_fake", pos_label="confirmed_fake")],
        numerical_columns=["p_fake"],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return Report([ClassificationPreset(probas_threshold=threshold)]).run(
            Dataset.from_pandas(data, data_definition=definition), None
        )


def comparison_table(table: pd.DataFrame) -> str:
    """The models side by side, per split, as a plain-text table (the demo summary prints it)."""
    cols = ["model", "model_version", "split", "requests", "confirmed_fake", "actually_real", "video_auc",
            "auc_ci_low", "auc_ci_high", "ap", "precision", "recall", "accuracy"]  # fmt: skip
    return table[cols].round(3).to_string(index=False)


def _plain(value):
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value

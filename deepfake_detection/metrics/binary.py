"""Clip- and video-level metrics, the validation threshold, bootstrap intervals, and the pictures.

Video level: `metrics.video_rule.video_scores` (mean over a person's clips, max over persons).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold maximising Youden's J (= balanced accuracy) on validation scores; 0.5 if one class."""
    y, p = np.asarray(y), np.asarray(p)
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thr = skm.roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(max(thr[best], 0.0), 1.0))


def eer(y: np.ndarray, p: np.ndarray) -> float:
    """Equal error rate: where the false-positive and false-negative rates cross."""
    fpr, tpr, _ = skm.roc_curve(y, p)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """|accuracy - confidence| of the positive-class probability, averaged over equal-width bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def bootstrap_auc(
    y: np.ndarray, p: np.ndarray, n: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """A percentile bootstrap confidence interval for the AUC (resampling rows; one-class draws skipped)."""
    y, p = np.asarray(y), np.asarray(p)
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) == 2:
            aucs.append(skm.roc_auc_score(y[i], p[i]))
    if not aucs:
        return float("nan"), float("nan")
    lo, hi = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Accuracy, F1, AUC, AP, EER, log loss and ECE with counts; threshold-free ones are NaN for one class."""
    y, p = np.asarray(y).astype(int), np.asarray(p, float)
    pred = (p >= threshold).astype(int)
    two = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "accuracy": float(skm.accuracy_score(y, pred)) if len(y) else float("nan"),
        "f1": float(skm.f1_score(y, pred, zero_division=0)) if len(y) else float("nan"),
        "auc": float(skm.roc_auc_score(y, p)) if two else float("nan"),
        "ap": float(skm.average_precision_score(y, p)) if two else float("nan"),
        "eer": eer(y, p) if two else float("nan"),
        "log_loss": float(skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])) if len(y) else float("nan"),
        "ece": expected_calibration_error(y, p) if len(y) else float("nan"),
    }


def grouped_metrics(table: pd.DataFrame, threshold: float, score: str = "p_fake") -> pd.DataFrame:
    """Metrics overall, per manipulation method (its fakes vs all reals) and per compression, with counts."""
    rows = [{"group": "all", **binary_metrics(table.is_fake, table[score], threshold)}]
    reals = table[table.is_fake == 0]
    for method in sorted(set(table.loc[table.is_fake == 1, "method"])):
        part = pd.concat([reals, table[table.method == method]])
        rows.append({"group": f"method={method}", **binary_metrics(part.is_fake, part[score], threshold)})
    for comp in sorted(set(table.compression)):
        part = table[table.compression == comp]
        rows.append({"group": f"compression={comp}", **binary_metrics(part.is_fake, part[score], threshold)})
    return pd.DataFrame(rows)


def save_plots(
    table: pd.DataFrame, threshold: float, folder: str | Path, title: str, score: str = "p_fake"
) -> list[Path]:
    """ROC curves (overall and per method), confusion matrix and score histograms as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y, p = table.is_fake.to_numpy(), table[score].to_numpy()
    paths = []

    fig, ax = plt.subplots(figsize=(5, 5))
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = skm.roc_curve(y, p)
        ax.plot(fpr, tpr, lw=2, label=f"all (AUC {skm.roc_auc_score(y, p):.3f})")
        reals = table[table.is_fake == 0]
        for method in sorted(set(table.loc[table.is_fake == 1, "method"])):
            part = pd.concat([reals, table[table.method == method]])
            f, t, _ = skm.roc_curve(part.is_fake, part[score])
            ax.plot(f, t, lw=1, label=f"{method} ({skm.roc_auc_score(part.is_fake, part[score]):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC - {title}")
    ax.legend(loc="lower right", fontsize=8)
    paths.append(_save(fig, folder / f"roc_{title}.png"))

    fig, ax = plt.subplots(figsize=(4, 4))
    cm = skm.confusion_matrix(y, (p >= threshold).astype(int), labels=[0, 1])
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=14)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["real", "fake"], yticklabels=["real", "fake"],
           xlabel="predicted", ylabel="true", title=f"confusion @ {threshold:.2f} - {title}")  # fmt: skip
    paths.append(_save(fig, folder / f"confusion_{title}.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = np.linspace(0, 1, 21)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, label="real")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, label="fake")
    ax.axvline(threshold, color="k", ls="--", lw=1, label="threshold")
    ax.set(xlabel="p(fake)", ylabel="count", title=f"scores - {title}")
    ax.legend()
    paths.append(_save(fig, folder / f"scores_{title}.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path

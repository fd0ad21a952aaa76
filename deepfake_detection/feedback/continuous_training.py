"""Continuous training: when to retrain, what to train on, and when the result may replace production.

- **When** (`decide_retraining`): the latest monitoring verdict *for the production version* says resolution or
  compression drifted, or at least `min_new_reviews` requests were labelled since that version was made. Drift
  with no reviewed clip to learn from does not retrain (the same data would give the same model); every
  decision lists its reasons and the numbers behind them.
- **What** (`training_mix`): the production version's own training data plus the reviewed requests of the
  `train` split (never the held-out ones), fine-tuned from the production weights.
- **Whether it replaces production** (`decide_candidate`): only when it is not worse on the original test split
  (clip AUC) and not worse on the held-out reviewed requests (video AUC; accuracy when they have one class),
  and, where shadow traffic of the candidate exists, not worse than production on the reviewed part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel

from deepfake_detection.data.clip_store import load_clip
from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.feedback.config import GateParams, Triggers
from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset

REVIEWED_PREFIX = "reviewed::"  # clip paths of the mix that live in the retained clip store


class RetrainingSignals(BaseModel):
    """What continuous training looked at."""

    production_version: str | None = None
    production_created: float | None = None  # unix seconds
    drift_alarmed: bool = False
    drift_headline: str | None = None
    drift_run: str | None = None
    drift_model_version: str | None = None  # the version the verdict compared traffic with
    drift_age_hours: float | None = None
    reviewed_dataset: str | None = None  # the reviewed_dataset artifact version id
    reviewed_requests: int = 0
    reviewed_train_requests: int = 0
    reviewed_contracts_passed: bool = False
    simulated_reviews: bool = False
    new_reviews: int = 0  # labelled requests decided after the production version was made


class RetrainingDecision(BaseModel):
    retrain: bool
    reasons: list[str]
    signals: RetrainingSignals
    triggers: Triggers


def decide_retraining(signals: RetrainingSignals, triggers: Triggers) -> RetrainingDecision:
    """Retrain or not, with every reason (see the module docstring)."""
    s, blockers, triggered, quiet = signals, [], [], []
    if s.production_version is None:
        blockers.append("there is no production version to fine-tune from")
    if s.reviewed_dataset is None:
        blockers.append("there is no reviewed_dataset yet (run the deepfake_feedback pipeline)")
    elif not s.reviewed_contracts_passed:
        blockers.append("the latest reviewed_dataset did not pass its data contracts")
    elif s.reviewed_train_requests == 0:
        blockers.append("the reviewed set has no request in its train split to learn from")
    if s.drift_headline is None:
        quiet.append("no monitoring verdict")
    elif s.drift_model_version != s.production_version:
        quiet.append(f"the latest monitoring verdict compared traffic with version {s.drift_model_version}, "
                     f"not production version {s.production_version}")  # fmt: skip
    elif triggers.verdict_max_age_hours is not None and (s.drift_age_hours or 0) > triggers.verdict_max_age_hours:
        quiet.append(f"the latest monitoring verdict is {s.drift_age_hours:.1f} h old "
                     f"(limit {triggers.verdict_max_age_hours} h)")  # fmt: skip
    elif not s.drift_alarmed:
        quiet.append(f"no drift alarmed ({s.drift_headline})")
    elif triggers.on_drift:
        triggered.append(f"drift alarmed for production version {s.production_version}: {s.drift_headline}")
    else:
        quiet.append(f"drift alarmed but drift triggers are off ({s.drift_headline})")
    count = f"{s.new_reviews} requests labelled since version {s.production_version} was made"
    if s.new_reviews >= triggers.min_new_reviews:
        triggered.append(f"{count} (threshold {triggers.min_new_reviews})")
    else:
        quiet.append(f"{count} (fewer than {triggers.min_new_reviews})")
    if triggered and not blockers:
        return RetrainingDecision(retrain=True, reasons=triggered, signals=s, triggers=triggers)
    if triggered:
        reasons = [f"would retrain ({'; '.join(triggered)}), but {'; '.join(blockers)}", *quiet]
    else:
        reasons = [f"no retraining needed: {'; '.join(quiet)}", *blockers]
    return RetrainingDecision(retrain=False, reasons=reasons, signals=s, triggers=triggers)


@dataclass
class ReviewedMix(ClipDataset):
    """A clip dataset whose rows come from two stores: the training data's and the retained clips
    (`clip_path` prefixed with REVIEWED_PREFIX). Used in process by the fine-tuning step."""

    reviewed_root: str = ""

    def load_clip(self, clip_path: str) -> np.ndarray:
        if clip_path.startswith(REVIEWED_PREFIX):
            return load_clip(self.reviewed_root, clip_path[len(REVIEWED_PREFIX) :])
        return super().load_clip(clip_path)


def training_mix(dataset: ClipDataset, reviewed: ReviewedDataset) -> ReviewedMix:
    """The training data plus the reviewed `train` requests' clips as extra `train` rows (held-out ones never).

    Raises ValueError when the reviewed clips were cut with another clip length or size than the data.
    """
    geometry = reviewed.geometry or {}
    for key in ("clip_len", "size"):
        if key in geometry and int(geometry[key]) != int(getattr(dataset.params, key)):
            raise ValueError(f"reviewed clips have {key} {geometry[key]}, the training data "
                             f"{getattr(dataset.params, key)}: they cannot be trained on together")  # fmt: skip
    extra = reviewed.split("train")
    rows = extra.assign(
        clip_id=REVIEWED_PREFIX + extra["clip_id"].astype(str), clip_path=REVIEWED_PREFIX + extra["clip_path"],
        video_id=REVIEWED_PREFIX + extra["video_id"].astype(str), split="train", subset="reviewed",
    )  # fmt: skip
    table = pd.concat([dataset.table, rows.drop(columns=["request_id", "decided_at"])], ignore_index=True)
    simulated = " (simulated reviews)" if reviewed.simulated else ""
    return ReviewedMix(
        table=table, store_root=dataset.store_root, params=dataset.params, failures=dataset.failures,
        source=f"{dataset.source} + {extra['request_id'].nunique()} reviewed production requests{simulated}",
        synthetic=dataset.synthetic,
        contracts_passed=dataset.contracts_passed and reviewed.contracts_passed, clip_format=dataset.clip_format,
        reviewed_root=reviewed.store_root,
    )  # fmt: skip


def shadow_check(shadowed: pd.DataFrame, reviewed: ReviewedDataset, version: str) -> dict:
    """The candidate's live verdicts in shadow vs production's, on the reviewed requests both answered.

    `shadowed`: `shadow_log.read_with_shadow` rows. Returns requests, agreement (same verdict as production, over
    every shadowed request of `version`), and live accuracy of each on the reviewed ones.
    """
    own = shadowed[shadowed["shadow_model_version"].astype(str) == str(version)] if not shadowed.empty else shadowed
    out = {"version": str(version), "shadowed_requests": len(own)}
    if own.empty:
        return {**out, "reviewed_requests": 0}
    out["verdict_agreement"] = float((own["shadow_verdict"] == own["verdict"]).mean())
    labelled = own.merge(reviewed.requests[["request_id", "is_fake"]], on="request_id")
    truth = np.where(labelled["is_fake"] == 1, "fake", "real")
    out["reviewed_requests"] = len(labelled)
    if len(labelled):
        out["candidate_accuracy"] = float((labelled["shadow_verdict"] == truth).mean())
        out["production_accuracy"] = float((labelled["verdict"] == truth).mean())
    return out


class CandidateDecision(BaseModel):
    """The gate's decision on a fine-tuned candidate, with every number it used."""

    promoted: bool
    stage: str
    reasons: list[str]
    candidate_test_auc: float
    production_test_auc: float | None
    holdout_metric: str | None
    candidate_holdout: float | None
    production_holdout: float | None
    holdout_requests: int
    shadow: dict


def decide_candidate(
    gate: GateParams,
    contracts_passed: bool,
    candidate_test_auc: float,
    production_test_auc: float | None,
    candidate_holdout: dict,
    production_holdout: dict,
    shadow: dict,
) -> CandidateDecision:
    """Production only when not worse on the test split, the held-out reviewed requests and shadow traffic
    (where it ran); every failed condition is listed. `*_holdout`: `online_evaluation.online_metrics` dicts."""
    reasons = []
    if not contracts_passed:
        reasons.append("the training data's or the reviewed set's contracts did not pass")
    if production_test_auc is not None and not candidate_test_auc >= production_test_auc - gate.max_test_auc_drop:
        reasons.append(f"test clip AUC {candidate_test_auc:.4f} is worse than production's {production_test_auc:.4f}"
                       f" (allowed drop {gate.max_test_auc_drop})")  # fmt: skip
    n = int(candidate_holdout.get("requests", 0))
    metric = next((m for m in ("video_auc", "accuracy") if _finite(candidate_holdout.get(m))
                   and _finite(production_holdout.get(m))), None)  # fmt: skip
    cand = prod = None
    if metric is None:
        reasons.append(f"the held-out reviewed set ({n} requests) cannot show the candidate is not worse")
    else:
        cand, prod = float(candidate_holdout[metric]), float(production_holdout[metric])
        if not cand >= prod - gate.max_holdout_drop:
            reasons.append(f"held-out reviewed {metric} {cand:.4f} is worse than production's {prod:.4f} "
                           f"({n} requests, allowed drop {gate.max_holdout_drop})")  # fmt: skip
    if shadow.get("reviewed_requests", 0) >= gate.shadow_min_requests:
        c, p = shadow["candidate_accuracy"], shadow["production_accuracy"]
        if not c >= p - gate.shadow_max_accuracy_drop:
            reasons.append(f"in shadow, live accuracy {c:.3f} on {shadow['reviewed_requests']} reviewed requests is "
                           f"below production's {p:.3f}")  # fmt: skip
    promoted = not reasons
    if promoted:
        test = "first production version" if production_test_auc is None else (
            f"test clip AUC {candidate_test_auc:.4f} vs production {production_test_auc:.4f}")  # fmt: skip
        reasons.append(f"not worse than production: {test}; held-out reviewed {metric} {cand:.4f} vs {prod:.4f} "
                       f"({n} requests)")  # fmt: skip
    if shadow.get("reviewed_requests", 0) < gate.shadow_min_requests:
        reasons.append(f"shadow check not applied: {shadow.get('reviewed_requests', 0)} reviewed requests of version "
                       f"{shadow.get('version')} in shadow (fewer than {gate.shadow_min_requests})")  # fmt: skip
    return CandidateDecision(
        promoted=promoted, stage="production" if promoted else "staging", reasons=reasons,
        candidate_test_auc=candidate_test_auc, production_test_auc=production_test_auc, holdout_metric=metric,
        candidate_holdout=cand, production_holdout=prod, holdout_requests=n, shadow=shadow,
    )  # fmt: skip


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)

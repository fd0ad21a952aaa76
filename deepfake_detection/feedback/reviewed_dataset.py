"""The reviewed dataset: reviews + the request log + retained clips -> one label per request, split by time.

**The rule for disagreeing reviewers** (`LABEL_RULE`): each reviewer's latest review of a request counts once
(a reviewer may correct themselves); `unsure` abstains; the request takes the label of a strict majority of the
remaining votes. A tie, or only `unsure` votes, leaves the request out: it is listed in `excluded` with the
reason, never guessed.

**Split by time**: labelled requests are ordered by when their label was decided (the latest counted review);
the newest `holdout_fraction` (at least `min_holdout`) are held out (`split == "holdout"`), the rest are `train`.
`holdout_since` records the cut, so later runs can keep it fixed. Continuous training learns only from `train`
and judges a candidate on `holdout`: the newest traffic is what a model is measured on, never trained on.

Requests without retained clips (retention off, expired, no face) are excluded and counted. The contract
(`validate_reviewed`, Great Expectations suites `data/suites/reviews.json` and `reviewed_requests.json`)
checks known labels, one label per request, labels consistent with `is_fake`, and every clip present.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepfake_detection.data.clip_store import load_clip
from deepfake_detection.data.contracts import ContractReport, validate_table
from deepfake_detection.feedback.reviews import IS_FAKE
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS

LABEL_RULE = (
    "each reviewer's latest review of a request counts once; 'unsure' abstains; a request takes the label of a "
    "strict majority of the remaining votes; a tie or only 'unsure' votes leave it out (excluded, counted)"
)
REQUEST_COLUMNS = [
    "request_id", "review_label", "is_fake", "label_is_fake", "votes", "votes_fake", "votes_real", "votes_unsure",
    "reviewers", "sources", "simulated", "first_review_at", "decided_at", "request_time", "model_name",
    "model_version", "verdict", "p_fake", "n_clips", "clips_missing", "split", *FEATURE_COLUMNS,
]  # fmt: skip
CLIP_COLUMNS = [
    "clip_id", "video_id", "request_id", "label", "is_fake", "split", "method", "compression", "clip_index",
    "face_index", "clip_path", "frames", "height", "width", "start_s", "end_s", "face_size", "decided_at",
]  # fmt: skip
EXCLUDED_COLUMNS = ["request_id", "reason", "votes_fake", "votes_real", "votes_unsure"]
REVIEW_TABLE_COLUMNS = ["review_id", "request_id", "label", "reviewer", "source", "created_at", "model_version"]
SPLITS = ("train", "holdout")


@dataclass
class ReviewedDataset:
    """Labelled production requests and their retained clips (`clips.clip_path` is relative to `store_root`)."""

    requests: pd.DataFrame  # one row per labelled request (REQUEST_COLUMNS)
    clips: pd.DataFrame  # one row per retained clip of those requests (CLIP_COLUMNS)
    excluded: pd.DataFrame  # requests left out and why (EXCLUDED_COLUMNS)
    reviews: pd.DataFrame  # every review it was built from (REVIEW_TABLE_COLUMNS)
    store_root: str
    geometry: dict  # clip_len, size, margin of the clips
    holdout_since: float | None  # requests decided at or after this time (unix s) are held out
    rule: str = LABEL_RULE
    built_at: float = field(default_factory=time.time)
    contracts_passed: bool = False  # set by the pipeline after the contracts passed
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = _content_hash(self.requests, self.clips)

    def split(self, name: str | None = None) -> pd.DataFrame:
        """The clip rows of `train` or `holdout` (None: all)."""
        clips = self.clips if name is None else self.clips[self.clips["split"] == name]
        return clips.reset_index(drop=True)

    def load_clip(self, clip_path: str) -> np.ndarray:
        return load_clip(self.store_root, clip_path)

    @property
    def simulated(self) -> bool:
        """Whether any label came from a simulated review (the demo's, made from its own labels)."""
        return bool(self.requests["simulated"].any()) if not self.requests.empty else False

    def summary(self) -> dict:
        r = self.requests
        per = r.groupby(["split", "review_label"]).size() if not r.empty else pd.Series(dtype=int)
        return {
            "requests": len(r),
            "clips": len(self.clips),
            "per_split_label": {f"{s}/{lbl}": int(n) for (s, lbl), n in per.items()},
            "excluded": {k: int(v) for k, v in self.excluded["reason"].value_counts().items()},
            "reviews": len(self.reviews),
            "holdout_since": self.holdout_since,
            "simulated_reviews": self.simulated,
            "rule": self.rule,
            "content_hash": self.content_hash,
            "contracts_passed": self.contracts_passed,
        }

    def save(self, folder: str, open_file: Callable = open) -> None:
        """`requests/clips/excluded/reviews.parquet` and `reviewed.json`; `open_file`: the artifact store's."""
        for name in ("requests", "clips", "excluded", "reviews"):
            with open_file(os.path.join(folder, f"{name}.parquet"), "wb") as f:
                getattr(self, name).to_parquet(f, index=False)
        meta = {k: getattr(self, k) for k in ("store_root", "geometry", "holdout_since", "rule", "built_at",
                                               "contracts_passed", "content_hash")}  # fmt: skip
        with open_file(os.path.join(folder, "reviewed.json"), "w") as f:
            f.write(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str, open_file: Callable = open) -> ReviewedDataset:
        tables = {}
        for name in ("requests", "clips", "excluded", "reviews"):
            with open_file(os.path.join(folder, f"{name}.parquet"), "rb") as f:
                tables[name] = pd.read_parquet(f)
        with open_file(os.path.join(folder, "reviewed.json"), "r") as f:
            meta = json.loads(f.read())
        return cls(**tables, **meta)


def decide_labels(reviews: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per labelled request, excluded requests) from reviews, by `LABEL_RULE`.

    Labels outside the vocabulary are passed through as votes, so the contract names them rather than this
    function silently dropping them.
    """
    if reviews.empty:
        return pd.DataFrame(columns=REQUEST_COLUMNS), pd.DataFrame(columns=EXCLUDED_COLUMNS)
    latest = reviews.sort_values(["created_at", "id"]).drop_duplicates(["request_id", "reviewer"], keep="last")
    labelled, excluded = [], []
    for request_id, votes in latest.groupby("request_id", sort=False):
        decided = votes[votes["label"] != "unsure"]
        counts = decided["label"].value_counts()
        n_fake, n_real = int(counts.get("confirmed_fake", 0)), int(counts.get("actually_real", 0))
        tally = {"votes_fake": n_fake, "votes_real": n_real, "votes_unsure": int(len(votes) - len(decided))}
        top = counts[counts == counts.max()] if not counts.empty else counts
        if len(top) != 1:
            reason = "disputed (a tie between reviewers)" if len(top) > 1 else "only unsure reviews"
            excluded.append({"request_id": request_id, "reason": reason, **tally})
            continue
        label = str(top.index[0])
        first = reviews[reviews["request_id"] == request_id]
        labelled.append({
            "request_id": request_id, "review_label": label, "is_fake": IS_FAKE.get(label),
            "label_is_fake": IS_FAKE.get(label), "votes": len(votes), **tally,
            "reviewers": ", ".join(sorted(votes["reviewer"].astype(str))),
            "sources": ", ".join(sorted(set(votes["source"].astype(str)))),
            "simulated": bool((votes["source"] == "simulated").any()),
            "first_review_at": float(first["created_at"].min()), "decided_at": float(decided["created_at"].max()),
            # the request-log row as the latest review copied it (the log itself may be gone)
            **{k: votes.iloc[-1][k] for k in ("request_time", "model_name", "model_version", "verdict", "p_fake")},
            **_features(votes.iloc[-1].get("features")),
        })  # fmt: skip
    return pd.DataFrame(labelled, columns=REQUEST_COLUMNS), pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS)


def build_reviewed_dataset(
    reviews: pd.DataFrame,
    request_log: pd.DataFrame,
    retained: pd.DataFrame,
    store_root: str,
    geometry: dict | None = None,
    holdout_fraction: float = 0.3,
    min_holdout: int = 2,
    holdout_since: float | None = None,
) -> ReviewedDataset:
    """The reviewed dataset (see the module docstring); `retained` is `retention.retained_table(store_root)`.

    `request_log`: rows of the request log(s); where a request is found there its row's drift features and model
    version replace the review's copy. `geometry`: keep clips cut with this clip_len/size/margin (the production
    model's); None: the most common one among the labelled requests' clips.
    """
    requests, excluded = decide_labels(reviews)
    requests = _with_request_log(requests, request_log)
    mine = retained[retained["request_id"].isin(set(requests["request_id"]))]
    geometry = geometry or _most_common_geometry(mine)
    keep = pd.Series(True, index=mine.index)
    for key in ("clip_len", "size", "margin"):
        if geometry and key in geometry:
            keep &= np.isclose(mine[key].astype(float), float(geometry[key]))
    other_geometry = set(mine.loc[~keep, "request_id"]) - set(mine.loc[keep, "request_id"])
    mine = mine[keep]
    with_clips = set(mine["request_id"])
    lost = []
    for row in requests.to_dict("records"):
        if row["request_id"] not in with_clips:
            reason = ("clips cut with another geometry" if row["request_id"] in other_geometry
                      else "no retained clips (retention off or expired, or no face)")  # fmt: skip
            lost.append({"request_id": row["request_id"], "reason": reason,
                         **{k: row[k] for k in ("votes_fake", "votes_real", "votes_unsure")}})  # fmt: skip
    excluded = pd.concat([excluded, pd.DataFrame(lost, columns=EXCLUDED_COLUMNS)], ignore_index=True)
    requests = requests[requests["request_id"].isin(with_clips)].reset_index(drop=True)
    per_request = mine.groupby("request_id").agg(
        n_clips=("clip_id", "size"), clips_missing=("clip_file_present", lambda s: int((~s).sum()))
    )
    requests = requests.drop(columns=["n_clips", "clips_missing"]).merge(per_request, on="request_id", how="left")
    requests, holdout_since = _split_by_time(requests, holdout_fraction, min_holdout, holdout_since)
    clips = mine.merge(requests[["request_id", "is_fake", "split", "decided_at"]], on="request_id")
    clips = clips.assign(
        video_id=clips["request_id"], label=np.where(clips["is_fake"] == 1, "fake", "real"),
        method="reviewed traffic", compression="served",
    )[CLIP_COLUMNS].reset_index(drop=True)  # fmt: skip
    table = reviews.reindex(columns=REVIEW_TABLE_COLUMNS).reset_index(drop=True)
    return ReviewedDataset(requests=requests[REQUEST_COLUMNS], clips=clips, excluded=excluded, reviews=table,
                           store_root=str(store_root), geometry=dict(geometry or {}),
                           holdout_since=holdout_since)  # fmt: skip


def validate_reviewed(dataset: ReviewedDataset) -> ContractReport:
    """The GX contracts: `reviews` on every review, `reviewed_requests` on the labelled requests."""
    return ContractReport(results=[validate_table(dataset.reviews, "reviews"),
                                   validate_table(dataset.requests, "reviewed_requests")])  # fmt: skip


def _with_request_log(requests: pd.DataFrame, request_log: pd.DataFrame) -> pd.DataFrame:
    if request_log.empty or requests.empty:
        return requests
    log = request_log.drop_duplicates("request_id", keep="last").set_index("request_id")
    cols = [c for c in ("time", "model_name", "model_version", "verdict", "p_fake", *FEATURE_COLUMNS) if c in log]
    found = requests["request_id"].isin(log.index)
    for col in cols:
        target = "request_time" if col == "time" else col
        values = requests.loc[found, "request_id"].map(log[col])
        requests[target] = requests[target].astype(object)
        requests.loc[found, target] = values
    return requests


def _most_common_geometry(clips: pd.DataFrame) -> dict:
    if clips.empty:
        return {}
    per_request = clips.drop_duplicates("request_id")
    top = per_request.groupby(["clip_len", "size", "margin"]).size().idxmax()
    return {"clip_len": int(top[0]), "size": int(top[1]), "margin": float(top[2])}


def _split_by_time(
    requests: pd.DataFrame, fraction: float, min_holdout: int, since: float | None
) -> tuple[pd.DataFrame, float | None]:
    requests = requests.sort_values(["decided_at", "request_id"]).reset_index(drop=True)
    n = len(requests)
    if since is None and n >= 2:
        n_hold = min(max(min_holdout, math.ceil(fraction * n)), n - 1)
        since = float(requests["decided_at"].iloc[n - n_hold]) if n_hold > 0 else None
    split = np.where(requests["decided_at"] >= since, "holdout", "train") if since is not None else "train"
    return requests.assign(split=split), since


def _features(value) -> dict:
    if isinstance(value, str):
        value = json.loads(value)
    value = value if isinstance(value, dict) else {}
    return {c: value.get(c) for c in FEATURE_COLUMNS}


def _content_hash(requests: pd.DataFrame, clips: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for row in requests.reindex(columns=["request_id", "review_label", "split"]).astype(str).itertuples(index=False):
        h.update("\t".join(row).encode() + b"\n")
    for path in sorted(clips["clip_path"].astype(str)) if "clip_path" in clips else []:
        h.update(path.encode() + b"\n")
    return h.hexdigest()[:16]

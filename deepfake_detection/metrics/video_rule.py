"""The video-level rule, one place for evaluation, cross-dataset evaluation and every answer.

A person's score is the mean p(fake) of their clips; a video is as fake as its most fake person (max over
persons). A manipulated face anywhere makes the video fake. pandas only (no scikit-learn), so the service's
front door applies it without loading the metrics.
"""

from __future__ import annotations

import pandas as pd


def video_scores(clips: pd.DataFrame, score: str = "p_fake") -> pd.DataFrame:
    """One row per video: mean over each face track's clips, then max over tracks (see module doc)."""
    keep = [c for c in ("label", "is_fake", "method", "compression", "split") if c in clips.columns]
    per_face = clips.groupby(["video_id", "face_index"], as_index=False).agg(
        **{score: (score, "mean")}, **{c: (c, "first") for c in keep}
    )
    return per_face.groupby("video_id", as_index=False).agg(
        **{score: (score, "max")}, **{c: (c, "first") for c in keep}
    )

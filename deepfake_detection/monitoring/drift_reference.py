"""The drift reference of a model: the drift features of every video it was trained on.

Stored with every model version, so monitoring compares served traffic with what that version saw. The
columns are `drift_features.video_features` of each training video, the very function the service applies
to uploads, plus the video's label, method and compression for slicing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from deepfake_detection.media.probe import VideoError
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS, video_features

log = logging.getLogger(__name__)
KEY_COLUMNS = ["video_id", "label", "method", "compression"]


def reference_table(clips: pd.DataFrame, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per training video: its drift features, with the median face size of its clips.

    A video that cannot be read any more (moved, deleted) is logged and left out rather than failing training.
    """
    keys = [c for c in KEY_COLUMNS if c in clips.columns]
    if "path" not in clips.columns:  # clips that were not cut from video files (synthetic test sets)
        log.warning("drift reference: the clip table names no video files; the reference is empty")
        return pd.DataFrame(columns=[*keys, *FEATURE_COLUMNS])
    videos = clips.groupby("path", as_index=False).agg(
        **{k: (k, "first") for k in keys}, face_size=("face_size", "median")
    )
    rows = []
    for i, video in enumerate(videos.to_dict("records")):
        try:
            rows.append({**{k: video[k] for k in keys}, **video_features(video["path"], video["face_size"])})
        except (VideoError, OSError) as exc:
            log.warning("drift reference: skipping %s (%s)", video["path"], exc)
        if progress:
            progress(i + 1, len(videos))
    return pd.DataFrame(rows, columns=[*keys, *FEATURE_COLUMNS])

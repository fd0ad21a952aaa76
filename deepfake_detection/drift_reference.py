"""The drift reference of a model: per-video resolution and compression columns of its training data.

Stored with every model version, so monitoring compares served traffic with what that version saw.
"""

from __future__ import annotations

import pandas as pd

REFERENCE_COLUMNS = ["frame_width", "frame_height", "fps", "bitrate", "codec", "pixel_format", "compression"]


def reference_table(clips: pd.DataFrame) -> pd.DataFrame:
    """One row per training video with its probed metadata, bits per pixel and median face size."""
    cols = [c for c in REFERENCE_COLUMNS if c in clips.columns]
    aggregations = {c: (c, "first") for c in cols}
    if "face_size" in clips.columns:
        aggregations["face_size"] = ("face_size", "median")
    videos = clips.groupby("video_id", as_index=False).agg(**aggregations)
    videos = videos.rename(columns={"frame_width": "width", "frame_height": "height"})
    if {"bitrate", "width", "height", "fps"} <= set(videos.columns):
        videos["bits_per_pixel"] = videos.bitrate / (videos.width * videos.height * videos.fps)
    return videos

"""The one catalog schema every dataset adapter produces: one row per video, probed.

Columns: `video_id` (unique within a catalog; it names the dataset's method/source folder, so two methods that
share a file name stay two videos), `path`, `label` ("real"/"fake"), `is_fake`, `method` (the manipulation, or
the real source such as `original`, `Celeb-real`, `YouTube-real`), `subset`, `compression` (c0/c23/c40 for
FF++, None where a dataset does not say), `target_id`/`source_id` (identities where known: the person in the
video and, for a fake, the donor face), `split` (train/val/test, "excluded" where an identity of the official
test list would leak into training), the facts of the probed stream, and `error` for a file that cannot be
used (never a crash).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

import pandas as pd

from deepfake_detection.media.probe import VideoError, VideoLimits, probe

log = logging.getLogger(__name__)

CATALOG_COLUMNS = [
    "video_id", "path", "label", "is_fake", "method", "subset", "compression", "target_id", "source_id", "split",
    "container", "codec", "pixel_format", "width", "height", "fps", "frame_count", "duration_s",
    "bitrate", "file_size", "rotation", "start_s", "error", "error_code",
]  # fmt: skip
ENTRY_KEYS = ("video_id", "path", "label", "method", "subset", "compression", "target_id", "source_id", "split")
SPLIT_FRACTIONS = {"train": 0.72, "val": 0.14, "test": 0.14}


def hashed_split(key: str, fractions: dict[str, float] | None = None) -> str:
    """A stable split for an identity (or group) with no official one: its hash, cut at the fractions."""
    fractions = fractions or SPLIT_FRACTIONS
    u = int(hashlib.sha256(str(key).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    edge = 0.0
    for split, fraction in fractions.items():
        edge += fraction
        if u < edge:
            return split
    return list(fractions)[-1]


def catalog_from_entries(
    entries: Iterable[dict],
    limits: VideoLimits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Probe each entry (a dict with `ENTRY_KEYS`) into a catalog row; unreadable files carry `error` (a sentence)
    and `error_code` (`media.probe.VideoError.code`)."""
    entries = list(entries)
    rows = []
    for i, entry in enumerate(entries):
        row = {**{k: entry.get(k) for k in ENTRY_KEYS}, "is_fake": int(entry["label"] == "fake"), "error": None,
               "error_code": None}  # fmt: skip
        try:
            info = probe(entry["path"], limits)
            row.update({k: v for k, v in info.as_dict().items() if k in CATALOG_COLUMNS and k != "path"})
        except VideoError as exc:
            log.warning("cannot use %s: %s", entry["path"], exc)
            row["error"], row["error_code"] = exc.message, exc.code
        rows.append(row)
        if progress:
            progress(i + 1, len(entries), entry["video_id"])
    table = pd.DataFrame(rows, columns=CATALOG_COLUMNS)
    for col in ("width", "height", "frame_count", "bitrate", "file_size"):
        table[col] = table[col].astype("Int64")
    return table

"""The resumable, idempotent clip store and the per-clip metadata table.

Layout: `<root>/<clip params hash>/<video content hash>/clip_<i>_face_<j>.npy` plus a `manifest.json`
written last and atomically. A video whose manifest exists is done: a rerun with the same inputs and
parameters re-reads manifests and decodes nothing, and an interrupted run resumes at the first video
without one. Clips are raw uint8 `.npy` files so training can memory-map them without decoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clips import Clip, ClipFailure, boxes_bounds, extract_clips, make_detector
from deepfake_detection.faces.detectors import FaceDetector
from deepfake_detection.media.probe import VideoError
from deepfake_detection.media.reader import VideoReader

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VIDEO_COLUMNS = ["video_id", "label", "is_fake", "method", "subset", "compression", "target_id", "source_id", "split"]
FAILURE_COLUMNS = ["video_id", "path", "clip_index", "stage", "reason"]


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file: the cache key survives moves and renames, and changes with the bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:20]


def _atomic_write_bytes(path: Path, write: Callable[[object], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ClipStore:
    """Clips of one set of `ClipParams` under `root`."""

    def __init__(self, root: str | Path, params: ClipParams) -> None:
        self.params = params
        self.root = Path(root).resolve() / params.cache_key()

    def video_dir(self, video_key: str) -> Path:
        return self.root / video_key

    def read_manifest(self, video_key: str) -> dict | None:
        path = self.video_dir(video_key) / MANIFEST
        if not path.is_file():
            return None
        return json.loads(path.read_text())

    def write(self, video_key: str, clips: list[Clip], failures: list[ClipFailure], meta: dict) -> dict:
        """Write clip arrays, then the manifest that marks the video done."""
        folder = self.video_dir(video_key)
        records = []
        for clip in clips:
            name = f"clip_{clip.clip_index:03d}_face_{clip.face_index}.npy"
            _atomic_write_bytes(folder / name, lambda f, a=clip.pixels: np.save(f, a, allow_pickle=False))
            x0, y0, x1, y1 = boxes_bounds(clip.crop_boxes)
            records.append(
                {
                    "clip_index": clip.clip_index,
                    "face_index": clip.face_index,
                    "start_frame": clip.start_frame,
                    "stride": self.params.stride,
                    "frames": int(clip.pixels.shape[0]),
                    "height": int(clip.pixels.shape[1]),
                    "width": int(clip.pixels.shape[2]),
                    "start_s": clip.start_s,
                    "end_s": clip.end_s,
                    "box_x0": x0,
                    "box_y0": y0,
                    "box_x1": x1,
                    "box_y1": y1,
                    "crop_boxes": [list(b) for b in clip.crop_boxes],
                    "face_size": clip.face_size,
                    "detect_hit_rate": clip.hit_rate,
                    "clip_path": f"{video_key}/{name}",
                    "clip_bytes": (folder / name).stat().st_size,
                }
            )
        manifest = {
            **meta,
            "params": self.params.model_dump(),
            "clips": records,
            "failures": [f.__dict__ for f in failures],
        }
        payload = json.dumps(manifest, indent=1).encode()
        _atomic_write_bytes(folder / MANIFEST, lambda f: f.write(payload))
        return manifest

    def load_clip(self, clip_path: str) -> np.ndarray:
        return load_clip(self.root, clip_path)


def load_clip(root: str | Path, clip_path: str) -> np.ndarray:
    """A stored clip as uint8 (frames, size, size, 3), memory-mapped: training reads only what it uses."""
    return np.load(Path(root) / clip_path, mmap_mode="r", allow_pickle=False)


def extract_catalog(
    catalog: pd.DataFrame,
    store: ClipStore,
    detector: FaceDetector | None = None,
    progress: Callable[[int, int, str, bool], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clips for every catalog row: (clip table, failure table). Unreadable rows are failures, not crashes.

    `progress(done, total, video_id, cached)` is called after each video.
    """
    detector = detector or make_detector(store.params.faces)
    clip_rows: list[dict] = []
    failure_rows: list[dict] = []
    total = len(catalog)
    for i, row in enumerate(catalog.to_dict("records")):
        base = {k: row.get(k) for k in VIDEO_COLUMNS}
        cached = False
        if isinstance(row.get("error"), str) and row["error"]:
            failure_rows.append(_failure(row, None, "probe", row["error"]))
        else:
            try:
                key = file_digest(row["path"])
                manifest = store.read_manifest(key)
                cached = manifest is not None
                if manifest is None:
                    manifest = _extract_one(row, key, store, detector)
                for rec in manifest["clips"]:
                    clip_rows.append(
                        {
                            **base,
                            "clip_id": f"{row['video_id']}#{rec['clip_index']}/{rec['face_index']}",
                            "frame_width": row["width"],
                            "frame_height": row["height"],
                            "path": row["path"],  # the drift reference re-reads the training video
                            **rec,
                            "crop_boxes": json.dumps(rec["crop_boxes"]),
                        }
                    )
                failure_rows.extend(
                    _failure(row, f["clip_index"], f["stage"], f["reason"]) for f in manifest["failures"]
                )
            except (VideoError, OSError) as exc:
                log.warning("no clips from %s: %s", row["path"], exc)
                failure_rows.append(_failure(row, None, "decode", str(exc)))
        if progress:
            progress(i + 1, total, row["video_id"], cached)
    clips = pd.DataFrame(clip_rows)
    if not clips.empty:
        first = ["clip_id", *VIDEO_COLUMNS]
        clips = clips[first + [c for c in clips.columns if c not in first]]
    return clips, pd.DataFrame(failure_rows, columns=FAILURE_COLUMNS)


def _extract_one(row: dict, key: str, store: ClipStore, detector: FaceDetector) -> dict:
    with VideoReader(row["path"]) as reader:
        clips, failures = extract_clips(reader, store.params, detector)
        meta = {"video_path": row["path"], "video_id": row["video_id"], "decoded_frames": reader.num_frames,
                "decoder": reader.info.decoder, "rotation": reader.info.rotation}  # fmt: skip
    return store.write(key, clips, failures, meta)


def _failure(row: dict, clip_index: int | None, stage: str, reason: str) -> dict:
    return {
        "video_id": row["video_id"],
        "path": row["path"],
        "clip_index": clip_index,
        "stage": stage,
        "reason": reason,
    }

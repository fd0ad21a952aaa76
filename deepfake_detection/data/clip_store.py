"""The resumable, idempotent clip store and the per-clip metadata table; extraction in one process or on Ray.

Layout: `<root>/<clip params hash>/<video content hash>/clip_<i>_face_<j>.<ext>` plus a `manifest.json`
written last (atomically on a local disk; object stores write whole objects). A video whose manifest exists is
done: a rerun with the same inputs and parameters re-reads manifests and decodes nothing, and an interrupted
run resumes at the videos without one. `root` is a local folder or an fsspec URL (`s3://bucket/clips`,
`file:///shared/clips`, `memory://clips`), so the workers of a Ray cluster write to one shared place. Clips
are stored in the store's `clip_format` (`data.clip_formats`; JPEG frames by default), recorded in every
manifest and in the file extension.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clip_formats import FORMATS, format_of
from deepfake_detection.data.clips import Clip, ClipFailure, boxes_bounds, extract_clips, make_detector
from deepfake_detection.faces.detectors import FaceDetector
from deepfake_detection.media.probe import VideoError
from deepfake_detection.media.reader import VideoReader

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DEFAULT_FORMAT = "jpeg"
VIDEO_COLUMNS = ["video_id", "label", "is_fake", "method", "subset", "compression", "target_id", "source_id", "split"]
FAILURE_COLUMNS = ["video_id", "path", "clip_index", "stage", "code", "reason"]


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file: the cache key survives moves and renames, and changes with the bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:20]


@lru_cache(maxsize=32)
def _filesystem(root: str):
    """(fsspec filesystem, path inside it, whether it is the local disk) for a folder path or URL."""
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, path = url_to_fs(root)
    local = isinstance(fs, LocalFileSystem)
    return fs, (str(Path(path).resolve()) if local else path.rstrip("/")), local


def _write_bytes(root: str, relative: str, data: bytes) -> None:
    fs, base, local = _filesystem(root)
    target = f"{base}/{relative}"
    if not local:
        fs.pipe_file(target, data)  # object stores and remote file systems write the whole object at once
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=Path(target).parent, prefix=".tmp-", suffix=Path(target).suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ClipStore:
    """Clips of one set of `ClipParams` under `root` (a folder or an fsspec URL), written in `clip_format`.

    `root` attribute: where this parameter set's clips live (what `ClipDataset.store_root` records).
    """

    def __init__(self, root: str | Path, params: ClipParams, clip_format: str = DEFAULT_FORMAT) -> None:
        if clip_format not in FORMATS:
            raise ValueError(f"unknown clip format {clip_format!r}; use one of {', '.join(FORMATS)}")
        self.params, self.format = params, FORMATS[clip_format]
        root = str(root)
        _, base, local = _filesystem(root)
        self.root = f"{base}/{params.cache_key()}" if local else f"{root.rstrip('/')}/{params.cache_key()}"

    def read_manifest(self, video_key: str) -> dict | None:
        fs, base, _ = _filesystem(self.root)
        path = f"{base}/{video_key}/{MANIFEST}"
        if not fs.exists(path):
            return None
        return json.loads(fs.cat_file(path))

    def write(self, video_key: str, clips: list[Clip], failures: list[ClipFailure], meta: dict) -> dict:
        """Write the clips, then the manifest that marks the video done."""
        records = []
        for clip in clips:
            name = f"clip_{clip.clip_index:03d}_face_{clip.face_index}{self.format.extension}"
            data = self.format.encode(clip.pixels)
            _write_bytes(self.root, f"{video_key}/{name}", data)
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
                    "clip_format": self.format.name,
                    "clip_bytes": len(data),
                }
            )
        manifest = {
            **meta,
            "params": self.params.model_dump(),
            "clip_format": self.format.name,
            "clips": records,
            "failures": [f.__dict__ for f in failures],
        }
        _write_bytes(self.root, f"{video_key}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
        return manifest

    def load_clip(self, clip_path: str) -> np.ndarray:
        return load_clip(self.root, clip_path)


def load_clip(root: str | Path, clip_path: str) -> np.ndarray:
    """A stored clip as uint8 (frames, size, size, 3), in whatever format its file name says.

    Raw `.npy` clips on a local disk are memory-mapped (training reads only what it uses); everything else is
    read and decoded (JPEG: ~13 ms per 16x224x224 clip on one core).
    """
    fmt = format_of(clip_path)
    fs, base, local = _filesystem(str(root))
    path = f"{base}/{clip_path}"
    if fmt.name == "npy" and local:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    return fmt.decode(fs.cat_file(path))


def extract_catalog(
    catalog: pd.DataFrame,
    store: ClipStore,
    detector: FaceDetector | None = None,
    progress: Callable[[int, int, str, bool], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clips for every catalog row in this process: (clip table, failure table). Unreadable rows are failures,
    not crashes. `progress(done, total, video_id, cached)` is called after each video."""
    detector = detector or make_detector(store.params.faces)
    rows = catalog.to_dict("records")
    outcomes = []
    for i, row in enumerate(rows):
        outcomes.append(video_outcome(row, store, detector))
        if progress:
            progress(i + 1, len(rows), row["video_id"], outcomes[-1].get("cached", False))
    return outcome_tables(rows, outcomes)


def extract_catalog_ray(
    catalog: pd.DataFrame,
    store: ClipStore,
    progress: Callable[[int, int, str, bool], None] | None = None,
    address: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`extract_catalog` as one Ray task per video on every core of this machine or a cluster (`address`).

    Each task is the same per-video function (digest, manifest check, extract, write), single-threaded, so N
    cores run N videos; the tables are assembled in catalog order, equal to a one-process run's.
    """
    from deepfake_detection.ray_runtime import ray_session

    rows = catalog.to_dict("records")
    outcomes: list[dict | None] = [None] * len(rows)
    with ray_session(address) as ray:
        task = ray.remote(num_cpus=1)(_video_outcome_task)
        index = {task.remote(row, store): i for i, row in enumerate(rows)}
        pending = list(index)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            i = index[done[0]]
            outcomes[i] = ray.get(done[0])
            if progress:
                progress(len(rows) - len(pending), len(rows), rows[i]["video_id"], outcomes[i].get("cached", False))
    return outcome_tables(rows, outcomes)


def extract_catalog_with(
    engine: str,
    catalog: pd.DataFrame,
    store: ClipStore,
    progress: Callable[[int, int, str, bool], None] | None = None,
    address: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run config's `engine`: "ray" (`extract_catalog_ray`, at `address`) or "local" (`extract_catalog`)."""
    if engine == "ray":
        return extract_catalog_ray(catalog, store, progress=progress, address=address)
    if engine == "local":
        return extract_catalog(catalog, store, progress=progress)
    raise ValueError(f"unknown extraction engine {engine!r}; use ray or local")


def _video_outcome_task(row: dict, store: ClipStore) -> dict:
    import cv2

    cv2.setNumThreads(1)  # one task per core: no thread pools inside a task
    return video_outcome(row, store, make_detector(store.params.faces), threads=1)


def video_outcome(row: dict, store: ClipStore, detector: FaceDetector, threads: int = 0) -> dict:
    """One catalog row through the store: {"manifest", "cached"} or {"error", "stage"}; never raises for a
    bad video."""
    if isinstance(row.get("error"), str) and row["error"]:
        return {"error": row["error"], "stage": "probe", "code": row.get("error_code") or "unreadable"}
    try:
        key = file_digest(row["path"])
        manifest = store.read_manifest(key)
        if manifest is not None:
            return {"manifest": manifest, "cached": True}
        with VideoReader(row["path"], threads=threads) as reader:
            clips, failures = extract_clips(reader, store.params, detector)
            meta = {"video_path": row["path"], "video_id": row["video_id"], "decoded_frames": reader.num_frames,
                    "decoder": reader.info.decoder, "rotation": reader.info.rotation}  # fmt: skip
        return {"manifest": store.write(key, clips, failures, meta), "cached": False}
    except (VideoError, OSError) as exc:
        log.warning("no clips from %s: %s", row["path"], exc)
        if isinstance(exc, VideoError):
            return {"error": exc.message, "stage": "decode", "code": exc.code}
        return {"error": str(exc), "stage": "decode", "code": "unreadable"}


def outcome_tables(rows: list[dict], outcomes: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clip table, failure table) from per-video outcomes, in catalog order."""
    clip_rows: list[dict] = []
    failure_rows: list[dict] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if "error" in outcome:
            failure_rows.append(_failure(row, None, outcome["stage"], outcome["error"], outcome.get("code", "")))
            continue
        base = {k: row.get(k) for k in VIDEO_COLUMNS}
        manifest = outcome["manifest"]
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
            _failure(row, f["clip_index"], f["stage"], f["reason"], f.get("code", "")) for f in manifest["failures"]
        )
    clips = pd.DataFrame(clip_rows)
    if not clips.empty:
        first = ["clip_id", *VIDEO_COLUMNS]
        clips = clips[first + [c for c in clips.columns if c not in first]]
    return clips, pd.DataFrame(failure_rows, columns=FAILURE_COLUMNS)


def _failure(row: dict, clip_index: int | None, stage: str, reason: str, code: str) -> dict:
    return {
        "video_id": row["video_id"],
        "path": row["path"],
        "clip_index": clip_index,
        "stage": stage,
        "code": code,
        "reason": reason,
    }

"""Retained clips: the face clips of an answered request, kept in a clip store for a retention period.

A privacy choice, off by default (`retention.enabled` in the serving settings). With it on, the service keeps
the 16-frame face crops it scored (never the upload, its audio or the rest of the frame), so that a reviewed
request can be evaluated and trained on later; after `days` the clips are deleted by `purge_expired` (run it
from cron: `deepfake-detect purge-clips`). `forget` deletes one request's clips at once (an erasure
request).

Layout: the clip store's (`data.clip_store.ClipStore`), with the request id as the video key:
`<root>/<clip params hash>/<request_id>/clip_<i>_face_<j>.<ext>` and a `manifest.json` written last that
records `request_id`, `retained_at`, `retained_until` (unix seconds) and the model version that answered.
A clip path in `retained_table` is relative to `root` (it starts with the parameter hash), so clips cut with
different parameters (a new model's geometry) live side by side.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clip_store import MANIFEST, ClipStore, _filesystem
from deepfake_detection.data.clips import Clip

log = logging.getLogger(__name__)
DAY_S = 86_400.0
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RETAINED_COLUMNS = [
    "request_id", "clip_id", "clip_index", "face_index", "clip_path", "frames", "height", "width", "start_s",
    "end_s", "face_size", "clip_len", "size", "margin", "params_key", "retained_at", "retained_until",
    "model_version", "clip_file_present",
]  # fmt: skip


def retain_clips(
    root: str | Path,
    params: ClipParams,
    request_id: str,
    clips: Sequence[Clip],
    days: float,
    model_version: str | None = None,
    clip_format: str = "jpeg",
    now: float | None = None,
) -> dict | None:
    """Write a request's face clips and their manifest; returns the manifest, or None when there is no clip.

    `params`: the clip parameters the service cut them with (the model's geometry, the service's faces).
    """
    if not clips:
        return None
    now = time.time() if now is None else now
    store = ClipStore(root, params, clip_format)
    meta = {"request_id": request_id, "retained_at": now, "retained_until": now + days * DAY_S,
            "model_version": model_version, "kind": "retained request clips"}  # fmt: skip
    return store.write(request_id, list(clips), [], meta)


def _manifests(root: str | Path) -> list[tuple[str, str, dict]]:
    """(params key, request id, manifest) of every retained request under `root`."""
    fs, base, _ = _filesystem(str(root))
    found = []
    for path in sorted(fs.glob(f"{base}/*/*/{MANIFEST}")):
        parts = str(path).rsplit("/", 3)
        try:
            manifest = json.loads(fs.cat_file(path))
        except (OSError, ValueError) as exc:
            log.warning("retained clips: unreadable manifest %s (%s)", path, exc)
            continue
        if "retained_until" in manifest:  # only retained requests, never another store's videos
            found.append((parts[-3], parts[-2], manifest))
    return found


def retained_table(root: str | Path, request_ids: set[str] | None = None) -> pd.DataFrame:
    """One row per retained clip (of `request_ids`, or all), with whether its file is in the store."""
    fs, base, _ = _filesystem(str(root))
    rows = []
    for key, request_id, manifest in _manifests(root):
        if request_ids is not None and request_id not in request_ids:
            continue
        params = manifest.get("params", {})
        for rec in manifest["clips"]:
            rows.append({
                "request_id": request_id, "clip_id": f"{request_id}#{rec['clip_index']}/{rec['face_index']}",
                "clip_index": rec["clip_index"], "face_index": rec["face_index"],
                "clip_path": f"{key}/{rec['clip_path']}",
                "frames": rec["frames"], "height": rec["height"], "width": rec["width"], "start_s": rec["start_s"],
                "end_s": rec["end_s"], "face_size": rec["face_size"], "clip_len": params.get("clip_len"),
                "size": params.get("size"), "margin": params.get("margin"), "params_key": key,
                "retained_at": manifest["retained_at"], "retained_until": manifest["retained_until"],
                "model_version": manifest.get("model_version"),
                "clip_file_present": bool(fs.exists(f"{base}/{key}/{rec['clip_path']}")),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=RETAINED_COLUMNS)


@dataclass
class PurgeReport:
    """What a purge deleted and kept."""

    deleted: list[str] = field(default_factory=list)  # request ids whose clips were deleted
    kept: int = 0  # retained requests not expired yet
    orphans: int = 0  # folders without a manifest (an interrupted write) older than the grace period

    def summary(self) -> str:
        return (f"deleted the clips of {len(self.deleted)} expired requests, kept {self.kept}, "
                f"removed {self.orphans} incomplete folders")  # fmt: skip


def purge_expired(root: str | Path, now: float | None = None, orphan_grace_s: float = 3600) -> PurgeReport:
    """Delete every retained request whose `retained_until` has passed, and incomplete folders (clips but no
    manifest: a write interrupted more than `orphan_grace_s` ago). Safe to run while the service writes."""
    now = time.time() if now is None else now
    fs, base, local = _filesystem(str(root))
    report = PurgeReport()
    if not fs.exists(base):
        return report
    with_manifest = set()
    for key, request_id, manifest in _manifests(root):
        with_manifest.add(f"{key}/{request_id}")
        if float(manifest["retained_until"]) <= now:
            fs.rm(f"{base}/{key}/{request_id}", recursive=True)
            report.deleted.append(request_id)
        else:
            report.kept += 1
    if local:  # an interrupted write leaves clips without a manifest; object stores write whole objects
        for folder in Path(base).glob("*/*"):
            rel = f"{folder.parent.name}/{folder.name}"
            if folder.is_dir() and rel not in with_manifest and not (folder / MANIFEST).exists():
                newest = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
                if now - newest > orphan_grace_s:
                    fs.rm(str(folder), recursive=True)
                    report.orphans += 1
    log.info("retained clips in %s: %s", root, report.summary())
    return report


def forget(root: str | Path, request_id: str) -> int:
    """Delete every retained clip of one request now, whatever its retention; returns the folders deleted."""
    if not _REQUEST_ID.match(request_id):  # never a pattern: "*" would match every request
        raise ValueError(f"{request_id[:70]!r} is not a request id")
    fs, base, _ = _filesystem(str(root))
    folders = [str(p).rsplit("/", 1)[0] for p in fs.glob(f"{base}/*/{request_id}/{MANIFEST}")]
    for folder in folders:
        fs.rm(folder, recursive=True)
    return len(folders)

"""The dataset artifact: the clip table, where the clips are stored, and a content hash.

The hash covers every clip's id, label, split and storage path; storage paths embed the video content
hash and the clip-parameter hash, so two datasets with equal hashes hold the same pixels. Training
records it with the model version, which ties every model to the exact data it saw.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clip_store import load_clip

HASHED_COLUMNS = ["clip_id", "label", "split", "clip_path"]


@dataclass
class ClipDataset:
    """Clips ready for training: `table` rows point into `store_root` through `clip_path`."""

    table: pd.DataFrame
    store_root: str
    params: ClipParams
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    content_hash: str = ""
    source: str = "unknown"  # what the clips were cut from, e.g. "FaceForensics++" or "synthetic demo"
    synthetic: bool = False  # the synthetic demo set: a model trained on it detects nothing (`ModelInfo`)
    contracts_passed: bool = False  # set by the pipeline after the GX contracts passed
    clip_format: str = "npy"  # how the store writes clips (`data.clip_formats`); each clip_path's extension says too

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.table)

    def split(self, name: str) -> pd.DataFrame:
        return self.table[self.table["split"] == name].reset_index(drop=True)

    def load_clip(self, clip_path: str) -> np.ndarray:
        return load_clip(self.store_root, clip_path)

    def save(self, folder: str, open_file: Callable = open) -> None:
        """The on-disk form: `clips.parquet`, `failures.parquet` and `dataset.json` (everything else).

        `open_file` lets the ZenML materializer write through its artifact store (local, S3, GCS).
        """
        for name, table in (("clips", self.table), ("failures", self.failures)):
            with open_file(os.path.join(folder, f"{name}.parquet"), "wb") as f:
                table.to_parquet(f, index=False)
        meta = {
            "store_root": self.store_root,
            "params": self.params.model_dump(),
            "content_hash": self.content_hash,
            "source": self.source,
            "synthetic": self.synthetic,
            "contracts_passed": self.contracts_passed,
            "clip_format": self.clip_format,
        }
        with open_file(os.path.join(folder, "dataset.json"), "w") as f:
            f.write(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str, open_file: Callable = open) -> ClipDataset:
        tables = {}
        for name in ("clips", "failures"):
            with open_file(os.path.join(folder, f"{name}.parquet"), "rb") as f:
                tables[name] = pd.read_parquet(f)
        with open_file(os.path.join(folder, "dataset.json"), "r") as f:
            meta = json.loads(f.read())
        return cls(
            table=tables["clips"],
            failures=tables["failures"],
            store_root=meta["store_root"],
            params=ClipParams(**meta["params"]),
            content_hash=meta["content_hash"],
            source=meta.get("source", "unknown"),
            synthetic=meta.get("synthetic", "NOT FaceForensics++" in meta.get("source", "")),
            contracts_passed=meta.get("contracts_passed", False),
            clip_format=meta.get("clip_format", "npy"),
        )

    def summary(self) -> dict:
        """Counts people ask for first: clips per split and label, failures, bytes per clip."""
        t = self.table
        counts = t.groupby(["split", "label"]).size() if not t.empty else pd.Series(dtype=int)
        return {
            "clips": len(t),
            "videos": int(t["video_id"].nunique()) if not t.empty else 0,
            "failures": len(self.failures),
            "bytes_per_clip": float(t["clip_bytes"].mean()) if not t.empty else 0.0,
            "per_split_label": {f"{s}/{lbl}": int(n) for (s, lbl), n in counts.items()},
            "content_hash": self.content_hash,
            "source": self.source,
            "contracts_passed": self.contracts_passed,
            "clip_format": self.clip_format,
        }


def content_hash(table: pd.DataFrame) -> str:
    if table.empty:
        return hashlib.sha256(b"").hexdigest()[:16]
    rows = table[HASHED_COLUMNS].astype(str).sort_values("clip_id")
    h = hashlib.sha256()
    for row in rows.itertuples(index=False):
        h.update("\t".join(row).encode() + b"\n")
    return h.hexdigest()[:16]

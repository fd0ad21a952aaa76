"""The Deepfake Detection Challenge data (Dolhansky et al., 2020) in its three published layouts.

- **Training parts**: `dfdc_train_part_<n>/metadata.json` beside the videos, `{"<file>.mp4": {"label":
  "REAL"|"FAKE", "original": "<file>.mp4" (fakes), ...}}`. No identities are given: a fake is grouped with the
  real video it was made from, and groups are split train/val by hash (the parts hold no test set).
- **Public test set**: a folder of videos with `labels.csv` (`filename,label`, 1 = fake): all `test`.
- **DFDC Preview**: `dataset.json`, `{"<method>/<target>/<...>.mp4": {"label": "real"|"fake", "set":
  "train"|"test", "target_id": ...}}`: the official `set`, identities from `target_id`.

`build_catalog` finds whichever layouts are under `root`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from deepfake_detection.datasets.catalog import catalog_from_entries, hashed_split
from deepfake_detection.media.probe import VideoLimits

LABELS_CSV = "labels.csv"
PREVIEW_JSON = "dataset.json"


def present(root: str | Path) -> bool:
    root = Path(root)
    return bool(_train_parts(root) or list(root.rglob(LABELS_CSV)) or (root / PREVIEW_JSON).is_file())


def _train_parts(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("metadata.json") if p.is_file())


def train_entries(root: Path) -> list[dict]:
    found = []
    for meta_path in _train_parts(root):
        meta = json.loads(meta_path.read_text())
        part = meta_path.parent.name
        for name, info in sorted(meta.items()):
            label = str(info.get("label", "")).lower()
            if label not in ("real", "fake"):
                raise ValueError(f"{meta_path}: {name} has label {info.get('label')!r}, not REAL or FAKE")
            original = info.get("original") if label == "fake" else None
            group = Path(original or name).stem
            found.append({"video_id": f"{part}/{name}", "path": str(meta_path.parent / name), "label": label,
                          "method": "DFDC" if label == "fake" else "original", "subset": part, "compression": None,
                          "target_id": group, "source_id": None,
                          "split": hashed_split(group, {"train": 0.85, "val": 0.15})})  # fmt: skip
    return found


def test_entries(root: Path) -> list[dict]:
    found = []
    for labels_path in sorted(root.rglob(LABELS_CSV)):
        with labels_path.open(newline="") as f:
            for record in csv.DictReader(f):
                name = record["filename"]
                label = "fake" if str(record["label"]).strip() in ("1", "1.0", "FAKE", "fake") else "real"
                found.append({"video_id": f"test/{name}", "path": str(labels_path.parent / name), "label": label,
                              "method": "DFDC" if label == "fake" else "original", "subset": "test",
                              "compression": None, "target_id": f"test:{Path(name).stem}", "source_id": None,
                              "split": "test"})  # fmt: skip
    return found


def preview_entries(root: Path) -> list[dict]:
    meta_path = root / PREVIEW_JSON
    if not meta_path.is_file():
        return []
    found = []
    for relative, info in sorted(json.loads(meta_path.read_text()).items()):
        label = str(info["label"]).lower()
        method = relative.split("/")[0]
        found.append({"video_id": f"preview/{relative}", "path": str(root / relative), "label": label,
                      "method": method if label == "fake" else "original", "subset": "preview",
                      "compression": None, "target_id": str(info.get("target_id") or relative),
                      "source_id": None, "split": "test" if info.get("set") == "test" else "train"})  # fmt: skip
    return found


def build_catalog(
    root: str | Path, limits: VideoLimits | None = None, progress: Callable[[int, int, str], None] | None = None
) -> pd.DataFrame:
    """The DFDC catalog of whichever layouts are under `root` (see the module docstring)."""
    root = Path(root)
    return catalog_from_entries([*train_entries(root), *test_entries(root), *preview_entries(root)], limits, progress)

"""Celeb-DF (v2) in its published layout (Li et al., CVPR 2020)::

    Celeb-real/id<N>_<k>.mp4            590 celebrity videos (real)
    YouTube-real/<k>.mp4                300 YouTube videos (real, identities not given)
    Celeb-synthesis/id<A>_id<B>_<k>.mp4 5,639 face swaps: id<A>'s video with id<B>'s face (fake)
    List_of_testing_videos.txt          the official test list: "<1 real | 0 fake> <folder>/<file>"

The test split is exactly the official list (518 videos); labels come from the folders and are checked
against the list's first column. The other videos are split by a hash of their identity, except those whose
target or donor identity appears in the test list: they are `excluded`, so no identity crosses splits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from deepfake_detection.datasets.catalog import catalog_from_entries, hashed_split
from deepfake_detection.media.probe import VideoLimits

FOLDERS = {"Celeb-real": "real", "YouTube-real": "real", "Celeb-synthesis": "fake"}
TEST_LIST = "List_of_testing_videos.txt"
_REAL = re.compile(r"^(?P<target>id\d+)_\d+$")
_FAKE = re.compile(r"^(?P<target>id\d+)_(?P<source>id\d+)_\d+$")


def present(root: str | Path) -> bool:
    return all((Path(root) / folder).is_dir() for folder in FOLDERS) and (Path(root) / TEST_LIST).is_file()


def test_list(root: str | Path) -> dict[str, str]:
    """{"<folder>/<file>": "real" | "fake"} from the official list."""
    listed = {}
    for line in (Path(root) / TEST_LIST).read_text().splitlines():
        if not line.strip():
            continue
        flag, relative = line.split(maxsplit=1)
        listed[relative.strip()] = "real" if flag.strip() == "1" else "fake"
    return listed


def entries(root: str | Path) -> list[dict]:
    root = Path(root)
    listed = test_list(root)
    found = []
    for folder, label in FOLDERS.items():
        for path in sorted((root / folder).glob("*.mp4")):
            relative = f"{folder}/{path.name}"
            if relative in listed and listed[relative] != label:
                raise ValueError(f"{TEST_LIST} labels {relative} {listed[relative]}, its folder says {label}")
            target, source = _identities(folder, path.stem)
            found.append({"video_id": relative, "path": str(path), "label": label, "method": folder,
                          "subset": "celebdf", "compression": None, "target_id": target, "source_id": source,
                          "split": "test" if relative in listed else None})  # fmt: skip
    missing = set(listed) - {e["video_id"] for e in found}
    if missing:
        raise FileNotFoundError(f"{len(missing)} videos of {TEST_LIST} are not under {root}: {sorted(missing)[:3]}")
    test_ids = {i for e in found if e["split"] == "test" for i in (e["target_id"], e["source_id"]) if i}
    for e in found:
        if e["split"] is None:
            own = {i for i in (e["target_id"], e["source_id"]) if i}
            e["split"] = "excluded" if own & test_ids else hashed_split(e["target_id"], {"train": 0.85, "val": 0.15})
    return found


def build_catalog(
    root: str | Path, limits: VideoLimits | None = None, progress: Callable[[int, int, str], None] | None = None
) -> pd.DataFrame:
    """The Celeb-DF-v2 catalog (see the module docstring)."""
    return catalog_from_entries(entries(root), limits, progress)


def _identities(folder: str, stem: str) -> tuple[str, str | None]:
    if folder == "Celeb-synthesis" and (m := _FAKE.match(stem)):
        return m.group("target"), m.group("source")
    if folder == "Celeb-real" and (m := _REAL.match(stem)):
        return m.group("target"), None
    return f"{folder}:{stem}", None  # YouTube-real: one unknown person per video

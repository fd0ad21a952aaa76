"""Every dataset adapter behind one name, for runs that evaluate on several (`deepfake_cross_evaluation`).

| name | adapter | what its test split is |
|---|---|---|
| `ffpp` | `datasets.ffpp` | the official FaceForensics++ test pairs |
| `dfd` | `datasets.ffpp`, DeepFakeDetection only | actors hashed to test (DFD has no official split) |
| `celebdf` | `datasets.celebdf` | `List_of_testing_videos.txt` |
| `dfdc` | `datasets.dfdc` | the public test set's `labels.csv` (and DFDC Preview's `set: test`) |

A dataset whose folder is not there is skipped with a message, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from deepfake_detection.datasets import celebdf, dfdc, ffpp
from deepfake_detection.media.probe import VideoLimits

log = logging.getLogger(__name__)


def _ffpp(root, limits, progress, splits_dir=None):
    splits = ffpp.OfficialSplits.load(splits_dir) if splits_dir else ffpp.OfficialSplits.load()
    return ffpp.build_catalog(root, splits=splits, limits=limits, progress=progress)


def _dfd(root, limits, progress, splits_dir=None):
    table = ffpp.build_catalog(root, methods=["original", "DeepFakeDetection"], limits=limits, progress=progress)
    return table[table["subset"] == "actors"].reset_index(drop=True)


def _ffpp_present(root) -> bool:
    return (Path(root) / "original_sequences").is_dir()


ADAPTERS: dict[str, tuple[Callable[[Path], bool], Callable]] = {
    "ffpp": (_ffpp_present, _ffpp),
    "dfd": (lambda r: (Path(r) / "manipulated_sequences" / "DeepFakeDetection").is_dir(), _dfd),
    "celebdf": (celebdf.present, lambda root, limits, progress, splits_dir=None: celebdf.build_catalog(
        root, limits, progress)),
    "dfdc": (dfdc.present, lambda root, limits, progress, splits_dir=None: dfdc.build_catalog(root, limits, progress)),
}  # fmt: skip


def load_catalog(
    adapter: str,
    root: str | Path,
    limits: VideoLimits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    splits_dir: str | None = None,
) -> pd.DataFrame | None:
    """The catalog of one dataset, or None (with a logged message) when its folder is not there."""
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown dataset adapter {adapter!r}; use one of {', '.join(ADAPTERS)}")
    is_present, build = ADAPTERS[adapter]
    if not Path(root).is_dir() or not is_present(root):
        log.warning("dataset %s not found at %s: skipped", adapter, root)
        return None
    return build(root, limits, progress, splits_dir)

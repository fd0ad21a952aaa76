"""Old module paths, so artifacts written before the library was grouped by stage still load.

ZenML records an artifact's type by its import path (`deepfake_detection.dataset.ClipDataset`); those paths
moved on 2026-11-30 (`deepfake_detection.data.dataset`). A meta-path finder answers an import of an old path
with the module at its new path, imported only when asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "dataset": "data.dataset", "clips": "data.clips", "clip_store": "data.clip_store", "contracts": "data.contracts",
    "ffpp": "datasets.ffpp", "demo_data": "datasets.demo", "model": "modeling.model", "training": "modeling.training",
    "training_config": "modeling.training_config", "detector": "modeling.detector", "augment": "modeling.augment",
    "launch": "modeling.launch", "metrics": "metrics.binary", "evaluation": "evaluation.report",
    "model_card": "evaluation.model_card", "inference": "scoring.analyze", "drift": "monitoring.drift",
    "drift_features": "monitoring.drift_features", "drift_reference": "monitoring.drift_reference",
    "request_log": "monitoring.request_log", "video": "media.probe", "uploads": "media.formats",
}  # fmt: skip
PACKAGE = "deepfake_detection"


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None):
        prefix, _, name = fullname.rpartition(".")
        if prefix != PACKAGE or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(f"{PACKAGE}.{MOVED[name]}"))


def install() -> None:
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())

"""A saved detector folder read without loading its weights (no torch): its threshold, provenance and backend.

The service's front door, `/model` and the command line's model description need these facts; importing
torch and transformers for them would cost every such process ~300 MB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from deepfake_detection.modeling.fast_path import backend_name, stored_merging, stored_precision

DETECTOR_FILE = "detector.json"
INFO_SCHEMA = 2
SYNTHETIC_WARNING = "trained on synthetic demo data: this model is not a deepfake detector, its verdicts mean nothing"


class ModelInfo(BaseModel):
    """What a saved detector says about itself (`detector.json`'s `info`), typed where it decides something.

    `origin`: scratch (built from a config), pretrained (fine-tuned from a checkpoint such as Kinetics-400),
    imported (a foreign real/fake checkpoint used as it is) or fine_tuned (continuous training from a registry
    version); `trained_on_synthetic`: trained on the demo set, so its verdicts mean nothing (the warning every
    answer carries comes from this flag); `clip_geometry`: how its clips are cut (`config.ClipGeometry`);
    `fast_path`: the export's check of the OpenVINO path. Other keys (metrics, the training config, data hash)
    are kept as they are. Written by the training, import and continuous-training steps; read everywhere.
    """

    model_config = ConfigDict(extra="allow")

    schema_version: int = INFO_SCHEMA
    origin: Literal["scratch", "pretrained", "imported", "fine_tuned", "unknown"] = "unknown"
    base_model: str = "unknown"
    trained_on: str = "unknown"
    trained_on_synthetic: bool = False
    clip_geometry: dict | None = None
    fast_path: dict | None = None

    @classmethod
    def read(cls, info: dict) -> ModelInfo:
        """The typed info of a stored `info` dict, also one written before the schema (inferred as it was read)."""
        data = dict(info)
        if "schema_version" not in data:
            data.setdefault("trained_on_synthetic", "NOT FaceForensics++" in str(data.get("trained_on", "")))
            data.setdefault("clip_geometry", data.get("clip_params"))
            data.setdefault("origin", _legacy_origin(data))
        return cls.model_validate(data)

    @property
    def warning(self) -> str | None:
        """What every answer of this model says first, when it must."""
        return SYNTHETIC_WARNING if self.trained_on_synthetic else None


def _legacy_origin(info: dict) -> str:
    if info.get("imported_from"):
        return "imported"
    if info.get("fine_tuned_from"):
        return "fine_tuned"
    return "scratch" if str(info.get("base_model", "")).startswith("from-scratch") else "pretrained"


def is_demo_model(info: dict) -> bool:
    """A model trained on the synthetic demo set: it proves the plumbing, it detects no deepfakes."""
    return ModelInfo.read(info).trained_on_synthetic


def read_meta(folder: str | Path) -> tuple[float, dict]:
    """(threshold, info) of a saved detector. Raises OSError or ValueError for a folder that is not one."""
    meta = json.loads((Path(folder) / DETECTOR_FILE).read_text())
    return float(meta["threshold"]), meta.get("info", {})


def backend_of(folder: str | Path, info: dict, requested: str = "auto") -> str:
    """The backend `Detector.load(folder, requested)` runs: "openvino-int8", "openvino-bf16" (with its token
    merging schedule when the kept fast path merges tokens) or "torch-fp32"."""
    precision = stored_precision(folder, info) if requested != "torch" else None
    return backend_name(precision, stored_merging(info)) if precision else "torch-fp32"

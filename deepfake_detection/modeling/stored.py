"""A saved detector folder read without loading its weights (no torch): its threshold, provenance and backend.

The service's front door, `/model` and the command line's model description need these facts; importing
torch and transformers for them would cost every such process ~300 MB.
"""

from __future__ import annotations

import json
from pathlib import Path

from deepfake_detection.modeling.fast_path import stored_precision

DETECTOR_FILE = "detector.json"


def read_meta(folder: str | Path) -> tuple[float, dict]:
    """(threshold, info) of a saved detector. Raises OSError or ValueError for a folder that is not one."""
    meta = json.loads((Path(folder) / DETECTOR_FILE).read_text())
    return float(meta["threshold"]), meta.get("info", {})


def backend_of(folder: str | Path, info: dict, requested: str = "auto") -> str:
    """The backend `Detector.load(folder, requested)` runs: "openvino-int8", "openvino-bf16" or "torch-fp32"."""
    precision = stored_precision(folder, info) if requested != "torch" else None
    return f"openvino-{precision}" if precision else "torch-fp32"

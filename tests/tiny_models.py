"""Tiny untrained VideoMAE detectors for tests: built from a config (nothing downloaded), enough to check the
plumbing, never skill, and labelled so (`trained_on` says NOT FaceForensics++, so answers carry the warning)."""

from __future__ import annotations

from deepfake_detection.config import ClipParams
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.model import ModelParams, build_model

TINY_SCRATCH = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
UNTRAINED = "nothing (untrained test model, NOT FaceForensics++)"


def tiny_detector(params: ClipParams, threshold: float = 0.5, layers: int = 1) -> Detector:
    """A random-weight detector for clips cut with `params` (its clip length and size), its geometry recorded."""
    model, processor = build_model(
        ModelParams(scratch={**TINY_SCRATCH, "num_hidden_layers": layers}), num_frames=params.clip_len,
        image_size=params.size,
    )  # fmt: skip
    info = {
        "schema_version": 2,
        "origin": "scratch",
        "trained_on": UNTRAINED,
        "trained_on_synthetic": True,
        "base_model": "from-scratch:test",
        "clip_geometry": params.geometry().model_dump(),
    }
    return Detector(model.eval(), processor, threshold, info)

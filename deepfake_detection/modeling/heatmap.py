"""Heatmaps drawn over face crops, and what they may be taken to mean (no torch: the pictures, not the model).

`modeling.explain` computes the tubelet relevance; this draws it, for answers, the page and reports.
"""

from __future__ import annotations

import base64
import io

import numpy as np

APPROXIMATION_NOTE = "attention rollout over the model's tubelets: an approximation of where it looked, not a proof"


def overlay(frame: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The face crop (H, W, 3 uint8) with a (h, w) heatmap in [0, 1] blended over it (red = more relevant)."""
    from PIL import Image

    size = frame.shape[1], frame.shape[0]
    heat = np.asarray(Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8)).resize(size, Image.BILINEAR))
    h = heat.astype(np.float32)[..., None] / 255.0
    colour = np.concatenate([h, 0.25 * h, 1.0 - h], axis=-1) * 255.0  # blue (low) to red (high)
    return (frame.astype(np.float32) * (1 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8)


def heatmap_png(frame: np.ndarray, heatmap: np.ndarray, side: int = 112) -> str:
    """Base64 PNG of `overlay(frame, heatmap)` at side x side pixels (~15-25 KB)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(overlay(frame, heatmap)).resize((side, side), Image.BILINEAR).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")

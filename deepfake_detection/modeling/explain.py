"""Where the model looked: attention rollout over VideoMAE's tubelets, drawn as a heatmap on the face crop.

Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020) multiplies each
layer's head-averaged attention, mixed half and half with the identity for the residual path, from the first
layer to the last. VideoMAE has no class token: its head averages all tokens, so a tubelet's relevance is the
mean over output tokens of its column of the rolled-out matrix. It is an approximation of what drove the
score, not a proof, and every picture made from it says so. It runs the torch model with eager attention
(the only implementation that returns attention weights), whatever backend scores the clips, and only when a
caller asks: one more forward pass per clip.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager

import numpy as np
import torch

from deepfake_detection.modeling.model import Preprocessing

APPROXIMATION_NOTE = "attention rollout over the model's tubelets: an approximation of where it looked, not a proof"


@contextmanager
def _eager_attention(model):
    """Switch the model to eager attention for the duration (sdpa returns no attention weights)."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


def rollout(attentions: list[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Token relevance (B, N) from per-layer attention (B, heads, N, N), for a mean-pooled transformer.

    Each row of the result sums to 1 (each layer's mixed matrix is row-stochastic, so is their product).
    """
    if not attentions:
        raise ValueError("no attention maps: the model returned none")
    batch, _, n, _ = attentions[0].shape
    eye = torch.eye(n, dtype=attentions[0].dtype).expand(batch, n, n)
    joint = eye
    for layer in attentions:
        mixed = residual * eye + (1 - residual) * layer.mean(dim=1)
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        joint = mixed @ joint
    return joint.mean(dim=1)  # the pooled output averages the rows


@torch.no_grad()
def tubelet_relevance(model, preprocessing: Preprocessing, clips: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Relevance of each tubelet, float32 (N, T / tubelet_size, H / patch, W / patch), scaled to [0, 1] per clip.

    Rollout maps are flat (the residual path keeps every token close to 1 / N), so each clip's map is
    stretched from its own minimum to its maximum: it shows where the model looked more, relative to the
    rest of that clip, not how much.

    `clips`: uint8 (N, T, H, W, 3) as `Detector.score` takes them. For VideoMAE-B at 224: (N, 8, 14, 14).
    """
    config = model.config
    grid = (config.num_frames // config.tubelet_size, config.image_size // config.patch_size,
            config.image_size // config.patch_size)  # fmt: skip
    model.eval()
    out = []
    with _eager_attention(model):
        for i in range(0, len(clips), batch_size):
            result = model(pixel_values=preprocessing(clips[i : i + batch_size]), output_attentions=True)
            relevance = rollout([a.float() for a in result.attentions]).reshape(-1, *grid)
            flat = relevance.flatten(1)
            low, high = flat.min(dim=1).values.view(-1, 1, 1, 1), flat.max(dim=1).values.view(-1, 1, 1, 1)
            out.append(((relevance - low) / (high - low).clamp_min(1e-12)).cpu().numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, *grid), dtype=np.float32)


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

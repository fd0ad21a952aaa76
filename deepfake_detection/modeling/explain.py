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

from contextlib import contextmanager

import numpy as np
import torch

from deepfake_detection.modeling.model import Preprocessing


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

    The rolled-out matrix is M_L ... M_1 (M = residual * I + (1 - residual) * head-mean attention, rows
    renormalised); the pooled output averages its rows, so relevance = (1/N) 1^T M_L ... M_1, computed as
    vector-matrix products from the last layer down: O(L N^2), not the O(L N^3) of the full product (1,568
    tokens for VideoMAE-B). Sums to 1 (each M is row-stochastic).
    """
    if not attentions:
        raise ValueError("no attention maps: the model returned none")
    batch, _, n, _ = attentions[0].shape
    relevance = torch.full((batch, 1, n), 1.0 / n, dtype=attentions[0].dtype)
    for layer in reversed(attentions):
        mixed = (1 - residual) * layer.mean(dim=1)
        mixed.diagonal(dim1=-2, dim2=-1).add_(residual)
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        relevance = relevance @ mixed
    return relevance.squeeze(1)


@torch.no_grad()
def tubelet_relevance(model, preprocessing: Preprocessing, clips: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Relevance of each tubelet, float32 (N, T / tubelet_size, H / patch, W / patch), scaled to [0, 1] per clip.

    Rollout maps are flat (the residual path keeps every token close to 1 / N), so each clip's map is
    stretched from its own minimum to its maximum: it shows where the model looked more, relative to the
    rest of that clip, not how much.

    `clips`: uint8 (N, T, H, W, 3) as `Detector.score` takes them. For VideoMAE-B at 224: (N, 8, 14, 14).
    Not thread-safe: it hooks the model and switches its attention implementation for the call, so one model
    must not be scored or explained from two threads at once (BentoML runs a service's calls one at a time).
    """
    config = model.config
    grid = (config.num_frames // config.tubelet_size, config.image_size // config.patch_size,
            config.image_size // config.patch_size)  # fmt: skip
    model.eval()
    layers: list[torch.Tensor] = []  # this batch's head-averaged attention (B, 1, N, N), one per layer
    # Each self-attention module's weights are averaged over heads as they are made, rather than asking the model
    # for all of them (`output_attentions` keeps 12 layers x 12 heads x N^2: ~1.4 GB per VideoMAE-B clip).
    hooks = [block.attention.attention.register_forward_hook(lambda _m, _a, out: layers.append(out[1].mean(1, True)))
             for block in model.videomae.encoder.layer]  # fmt: skip
    out = []
    try:
        with _eager_attention(model):
            for i in range(0, len(clips), batch_size):
                layers.clear()
                model(pixel_values=preprocessing(clips[i : i + batch_size]))
                relevance = rollout([a.float() for a in layers]).reshape(-1, *grid)
                flat = relevance.flatten(1)
                low, high = flat.min(dim=1).values.view(-1, 1, 1, 1), flat.max(dim=1).values.view(-1, 1, 1, 1)
                out.append(((relevance - low) / (high - low).clamp_min(1e-12)).cpu().numpy().astype(np.float32))
    finally:
        for hook in hooks:
            hook.remove()
    return np.concatenate(out) if out else np.zeros((0, *grid), dtype=np.float32)

"""Small clip datasets for training tests: real carphone face crops vs the same crops with a blended,
colour-shifted face region (the way self-blended fakes are made), written like the clip store does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from deepfake_detection.config import ClipParams
from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.datasets.demo import _soft_mask, carphone_path
from deepfake_detection.media.reader import VideoReader

_FRAMES: np.ndarray | None = None


def _carphone() -> np.ndarray:
    global _FRAMES
    if _FRAMES is None:
        _FRAMES = VideoReader(carphone_path()).get(range(120))
    return _FRAMES


def make_clip_dataset(
    root: Path,
    n_per_class: int,
    size: int = 64,
    frames: int = 16,
    shift: float = 40.0,
    light: float = 0.15,
    seed: int = 0,
) -> ClipDataset:
    """`n_per_class` real and fake clips per split (train gets 3x); fakes shift the face region's colour."""
    rng = np.random.default_rng(seed)
    video = _carphone()
    mask = _soft_mask(size // 2, size // 2)
    rows = []
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 3 * n_per_class), ("val", n_per_class), ("test", n_per_class)):
        for i in range(2 * n):
            fake = i % 2
            start = int(rng.integers(0, len(video) - frames))
            # the carphone face sits near (88, 65): crop around it with some jitter and scale
            half = rng.uniform(38, 48)
            cx, cy = 88 + rng.uniform(-6, 6), 66 + rng.uniform(-6, 6)
            box = (cx - half, cy - half, cx + half, cy + half)
            clip = np.stack(
                [
                    np.asarray(Image.fromarray(f).crop(box).resize((size, size), Image.BILINEAR))
                    for f in video[start : start + frames]
                ]
            ).astype(np.float32)
            clip = clip * rng.uniform(1 - light, 1 + light) + rng.uniform(-100, 100) * light
            if rng.random() < 0.5:
                clip = clip[:, :, ::-1]
            if fake:
                delta = rng.uniform(0.6, 1.0, 3) * shift * rng.choice([-1, 1], 3)
                q = size // 4
                clip[:, q : q + size // 2, q : q + size // 2] += mask * delta
            clip = np.clip(clip, 0, 255).astype(np.uint8)
            name = f"{split}_{i:04d}.npy"
            np.save(root / name, clip)
            method = "SyntheticBlend" if fake else "original"
            rows.append(
                {
                    "clip_id": f"{split}/{i}", "video_id": f"{split}/{i // 4}/{fake}", "face_index": 0,
                    "label": "fake" if fake else "real", "is_fake": fake, "method": method,
                    "compression": "c23", "split": split, "clip_path": name,
                    "clip_bytes": (root / name).stat().st_size,
                }
            )  # fmt: skip
    params = ClipParams(clip_len=frames, size=size)
    return ClipDataset(pd.DataFrame(rows), str(root), params, source="synthetic test clips", contracts_passed=True)

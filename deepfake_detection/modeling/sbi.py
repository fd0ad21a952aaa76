"""Self-blended pseudo-fakes (SBI; Shiohara & Yamasaki, CVPR 2022), made consistent over a video clip.

A real face blended with a slightly transformed copy of itself carries the generic traces of face swapping
(a blending boundary, colour and sharpness mismatch, a small misalignment) without any one method's
fingerprint, which is why detectors trained on SBI generalise to unseen methods (0.93 video AUC on Celeb-DF-v2
after FF++ in the paper). For a *video* detector the pseudo-fake must behave like a video fake: one transform
drawn per clip and applied to all 16 frames, and a mask that follows the face from frame to frame (the convex
hull of each frame's 68 landmarks), so the only temporal signal is the face's own motion.

Landmarks: dlib's 68-point predictor, `shape_predictor_68_face_landmarks.dat` from the `face_recognition_models`
package. Its training data (iBUG 300-W) **bars commercial use**: SBI training is for research; the served
model never runs it.

Modes (`SBIParams.mode`): `off` (FF++ fakes only), `add` (FF++ fakes plus one SBI copy of every real clip),
`real_only` (FF++ fakes dropped: real clips and their SBI copies). Each SBI clip is drawn anew every epoch from
(seed, epoch, index), so runs are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"


class SBIParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "add", "real_only"] = Field("off", description="see the module docstring")


@lru_cache(maxsize=1)
def _predictor():
    import dlib

    from deepfake_detection.faces.detectors import package_file

    return dlib.shape_predictor(str(package_file("face_recognition_models", LANDMARKS_FILE)))


def clip_landmarks(clip: np.ndarray, margin: float = 1.3) -> np.ndarray:
    """68 landmarks (T, 68, 2) per frame of a face clip (uint8 T x S x S x 3, the face centred, `margin` times
    the face box: the crop geometry of `faces.crops`)."""
    import dlib

    size = clip.shape[1]
    face = size / margin
    lo, hi = int((size - face) / 2), int((size + face) / 2)
    rect = dlib.rectangle(lo, lo, hi, hi)
    predictor = _predictor()
    out = np.empty((len(clip), 68, 2), dtype=np.float32)
    for t, frame in enumerate(clip):
        shape = predictor(np.ascontiguousarray(frame), rect)
        out[t] = [(p.x, p.y) for p in shape.parts()]
    return out


@dataclass(frozen=True)
class BlendDraw:
    """One clip's random choices, the same for all its frames."""

    rgb_shift: tuple[float, float, float]  # added to the source, levels
    contrast: float  # source contrast factor
    blur: float  # > 0: Gaussian blur sigma of the source; < 0: unsharp amount
    scale: float  # source scale about the face centre
    shift: tuple[float, float]  # source translation, fraction of the crop side
    mask_grow: int  # > 0 dilate, < 0 erode the hull, pixels
    mask_blur: float  # Gaussian sigma of the mask edge, pixels
    alpha: float  # blend strength at the mask's centre

    @classmethod
    def draw(cls, rng: np.random.Generator) -> BlendDraw:
        return cls(
            rgb_shift=tuple(float(v) for v in rng.uniform(-20, 20, 3)),
            contrast=float(rng.uniform(0.9, 1.1)),
            blur=float(rng.choice([rng.uniform(0.6, 1.5), -rng.uniform(0.3, 0.8)])),
            scale=float(rng.uniform(0.96, 1.04)),
            shift=(float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02))),
            mask_grow=int(rng.integers(-6, 7)),
            mask_blur=float(rng.uniform(2.0, 7.0)),
            alpha=float(rng.choice([1.0, rng.uniform(0.5, 1.0)])),
        )


def hull_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The filled convex hull of one frame's landmarks: uint8 (size, size) of 0/1."""
    import cv2

    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 1)
    return mask


def blend_mask(landmarks: np.ndarray, size: int, draw: BlendDraw) -> np.ndarray:
    """float32 (size, size) in [0, alpha]: the hull grown or shrunk, its edge blurred."""
    import cv2

    mask = hull_mask(landmarks, size)
    if draw.mask_grow:
        kernel = np.ones((2 * abs(draw.mask_grow) + 1,) * 2, np.uint8)
        mask = cv2.dilate(mask, kernel) if draw.mask_grow > 0 else cv2.erode(mask, kernel)
    radius = int(np.ceil(3 * draw.mask_blur))
    soft = cv2.GaussianBlur(mask.astype(np.float32), (2 * radius + 1,) * 2, draw.mask_blur)
    return soft * draw.alpha


def transform_source(frame: np.ndarray, draw: BlendDraw) -> np.ndarray:
    """The frame as the 'other face' of the blend: colour, sharpness and a small misalignment (float32)."""
    import cv2

    size = frame.shape[0]
    x = frame.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    x = (x - mean) * draw.contrast + mean + np.asarray(draw.rgb_shift, np.float32)
    if draw.blur > 0:
        x = cv2.GaussianBlur(x, (0, 0), draw.blur)
    else:
        x = x + (-draw.blur) * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 0.0, draw.scale)
    matrix[:, 2] += np.asarray(draw.shift) * size
    return cv2.warpAffine(x, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)


def self_blend(clip: np.ndarray, landmarks: np.ndarray, draw: BlendDraw) -> tuple[np.ndarray, np.ndarray]:
    """(blended uint8 clip, masks float32 (T, S, S)): every frame blended with its transformed self inside its
    own landmark mask, with the one `draw`. Pixels where the mask is 0 are the original's, exactly."""
    size = clip.shape[1]
    out = np.empty_like(clip)
    masks = np.empty(clip.shape[:3], np.float32)
    for t, frame in enumerate(clip):
        mask = blend_mask(landmarks[t], size, draw)
        blended = mask[..., None] * transform_source(frame, draw) + (1 - mask[..., None]) * frame.astype(np.float32)
        out[t] = np.where(mask[..., None] > 0, np.clip(np.round(blended), 0, 255), frame).astype(np.uint8)
        masks[t] = mask
    return out, masks


def sbi_table(table, mode: str):
    """The training table for a mode: SBI rows are copies of real clips marked `sbi` and labelled fake."""
    import pandas as pd

    if mode == "off":
        return table.assign(sbi=False)
    reals = table[table["is_fake"] == 0]
    pseudo = reals.assign(sbi=True, is_fake=1, label="fake", method="SBI")
    kept = reals.assign(sbi=False) if mode == "real_only" else table.assign(sbi=False)
    return pd.concat([kept, pseudo], ignore_index=True)

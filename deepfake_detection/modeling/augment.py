"""Clip augmentations that matter for deepfake detection, applied identically to all 16 frames.

Per-frame randomness would itself look like a temporal artefact; one draw per clip keeps the video
coherent. Compression augmentation teaches robustness to the c23 -> c40 shift that breaks detectors trained on
one quality: JPEG per frame (`jpeg`), or the whole clip re-encoded as H.264 video at a random CRF (`video_crf`),
which compresses the way FF++ c23/c40 were made, across frames too.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.media.encode import decode_frames, encode_h264


class AugmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hflip: float = Field(0.5, ge=0, le=1, description="probability of a horizontal flip")
    brightness: float = Field(0.1, ge=0, description="max relative brightness change")
    contrast: float = Field(0.1, ge=0, description="max relative contrast change")
    saturation: float = Field(0.1, ge=0, description="max relative saturation change")
    jpeg: float = Field(0.3, ge=0, le=1, description="probability of JPEG re-encoding")
    jpeg_quality: tuple[int, int] = (40, 95)
    video_crf: float = Field(0.0, ge=0, le=1, description="probability of re-encoding the clip with libx264")
    video_crf_range: tuple[int, int] = Field((23, 40), description="CRF drawn from this range (c23 .. c40)")


def augment_clip(clip: np.ndarray, params: AugmentParams, rng: np.random.Generator) -> np.ndarray:
    """uint8 (T, H, W, 3) -> augmented uint8 clip of the same shape; one random draw for the whole clip."""
    out = np.asarray(clip)
    if rng.random() < params.hflip:
        out = out[:, :, ::-1]
    b = 1 + rng.uniform(-params.brightness, params.brightness)
    c = 1 + rng.uniform(-params.contrast, params.contrast)
    s = 1 + rng.uniform(-params.saturation, params.saturation)
    if (b, c, s) != (1, 1, 1):
        x = out.astype(np.float32)
        grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = grey[..., None] + (x - grey[..., None]) * s
        x = (x - x.mean()) * c + x.mean()
        out = np.clip(x * b, 0, 255).astype(np.uint8)
    if rng.random() < params.jpeg:
        quality = int(rng.integers(params.jpeg_quality[0], params.jpeg_quality[1] + 1))
        out = np.stack([_jpeg(frame, quality) for frame in out])
    if params.video_crf and rng.random() < params.video_crf:
        out = reencode_clip(out, int(rng.integers(params.video_crf_range[0], params.video_crf_range[1] + 1)))
    return np.ascontiguousarray(out)


def reencode_clip(clip: np.ndarray, crf: int) -> np.ndarray:
    """The clip through libx264 (yuv420p, one GOP) at `crf` and back: uint8 (T, H, W, 3) of the same shape."""
    return decode_frames(encode_h264(clip, crf, "yuv420p", "veryfast"))


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))

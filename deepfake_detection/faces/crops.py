"""The square face crop a clip is made of."""

from __future__ import annotations

import numpy as np

from deepfake_detection.faces.boxes import Box
from deepfake_detection.media.picture import Picture


def square_crop_box(box: Box, frame_width: int, frame_height: int, margin: float = 1.3) -> tuple[int, int, int, int]:
    """The square region around a face, `margin` times its longer side, shifted to lie inside the frame.

    Shifting (rather than padding with black) keeps every crop pixel real; a face larger than the frame
    gets the largest square the frame allows.
    """
    side = min(max(box.width, box.height) * margin, frame_width, frame_height)
    cx, cy = box.center
    x0 = min(max(cx - side / 2, 0.0), frame_width - side)
    y0 = min(max(cy - side / 2, 0.0), frame_height - side)
    side_i = max(1, round(side))
    x0_i = round(min(max(x0, 0), frame_width - side_i))
    y0_i = round(min(max(y0, 0), frame_height - side_i))
    return x0_i, y0_i, x0_i + side_i, y0_i + side_i


def crop_faces(
    frames: list[np.ndarray | Picture] | np.ndarray, boxes: list[Box], size: int = 224, margin: float = 1.3
) -> np.ndarray:
    """Crop each frame (an RGB array (H, W, 3) or a `Picture`) around its box (`square_crop_box`) and resize to
    `size` x `size`: uint8 (N, size, size, 3).

    A picture converts only the crop region, from its stored planes straight to `size` (swscale, area filter
    when shrinking: ~0.5 ms per crop of a 1080p or 4K frame, no full-size RGB picture); an array is sliced and
    resized by OpenCV (area when shrinking). On real video the two agree within ~2 of 255 on average (tested).
    """
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        picture = Picture.of(frame)
        x0, y0, x1, y1 = square_crop_box(box, picture.width, picture.height, margin)
        out[i] = picture.region(x0, y0, x1, y1, size, size)
    return out

"""The square face crop a clip is made of."""

from __future__ import annotations

import numpy as np
from PIL import Image

from deepfake_detection.faces.boxes import Box


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
    frames: np.ndarray | list[np.ndarray], boxes: list[Box], size: int = 224, margin: float = 1.3
) -> np.ndarray:
    """Crop each frame (H, W, 3) around its box and resize to `size` x `size` (PIL bilinear): uint8
    (N, size, size, 3).

    The region is sliced from the array before PIL sees it (the same pixels as cropping in PIL, without
    copying a whole 4K frame per crop).
    """
    h, w = frames[0].shape[:2]
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        x0, y0, x1, y1 = square_crop_box(box, w, h, margin)
        region = np.ascontiguousarray(frame[y0:y1, x0:x1])
        out[i] = np.asarray(Image.fromarray(region).resize((size, size), Image.BILINEAR))
    return out

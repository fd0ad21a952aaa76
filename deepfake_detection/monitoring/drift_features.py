"""The drift features of one video, computed the same way for training videos and for served uploads.

Resolution and container columns come from the probe. Two columns are measured on decoded frames, because
metadata lies (a re-encode keeps a high bitrate but loses detail):

- `blockiness`: mean absolute luma step across 16-pixel block edges divided by the mean step everywhere
  else. H.264 codes 16x16 macroblocks; heavy quantisation leaves visible steps at their edges that the
  deblocking filter cannot hide, so the ratio rises with compression (about 1.0-1.16 for CRF 23 and
  1.33-1.54 for CRF 40 on the demo set; on a real FF++ c23 video re-encoded at CRF 23/32/40/45 it rises
  1.49/1.52/1.55/1.72 from 1.42 for the original). It compares like with like only at native resolution.
- `sharpness`: variance of the luma Laplacian, which falls with blur, downscaling and quantisation.

Served uploads are measured on the luma plane the decoder produced in the stored grid (`media.reader`, scaled to
0-255), which is what the codec quantised and what the RGB luma is computed from: no RGB conversion for it.

Frames are sampled evenly (`n_frames`, default 4), so the cost is a few seeks and decodes per video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clips import plan_clip_starts
from deepfake_detection.media.probe import VideoInfo
from deepfake_detection.media.reader import VideoReader

BLOCK = 16
MEASURED_REGION = (1920, 1088)  # (width, height) of the centre region measured in larger frames
RESOLUTION_COLUMNS = ["width", "height", "pixels"]
COMPRESSION_COLUMNS = ["bitrate", "bits_per_pixel", "blockiness"]
NUMERIC_COLUMNS = [*RESOLUTION_COLUMNS, "fps", "duration_s", *COMPRESSION_COLUMNS, "sharpness", "face_size"]
CATEGORICAL_COLUMNS = ["codec", "pixel_format"]
FEATURE_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 frame as float32 (a 2-D array is taken to be luma already)."""
    if frame.ndim == 2:
        return frame.astype(np.float32, copy=False)
    rgb = frame.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def blockiness(y: np.ndarray, block: int = BLOCK) -> float:
    """Luma step across block edges relative to the step inside blocks (1.0: no block structure).

    Means of the absolute steps per column (horizontal steps) and per row (vertical steps), then over the
    edge and the other columns/rows: every column has as many rows, so this equals the mean over the pixels.
    """
    dh = np.abs(np.diff(y, axis=1)).mean(axis=0)
    dv = np.abs(np.diff(y, axis=0)).mean(axis=1)
    edge_h = np.zeros(len(dh), dtype=bool)
    edge_h[block - 1 :: block] = True
    edge_v = np.zeros(len(dv), dtype=bool)
    edge_v[block - 1 :: block] = True
    if not edge_h.any() or not edge_v.any():
        return float("nan")
    at_edges = dh[edge_h].mean() + dv[edge_v].mean()
    inside = dh[~edge_h].mean() + dv[~edge_v].mean()
    return float(at_edges / inside) if inside > 0 else float("nan")


def sharpness(y: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the luma, over the interior pixels (OpenCV's filter)."""
    import cv2

    if min(y.shape) < 3:
        return float("nan")
    lap = cv2.Laplacian(np.ascontiguousarray(y, dtype=np.float32), cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    return float(cv2.meanStdDev(lap)[1][0, 0] ** 2)


def frame_quality(frames: np.ndarray | list[np.ndarray]) -> dict[str, float]:
    """Mean blockiness and sharpness over frames: RGB (H, W, 3) or luma (H, W) on the 0-255 scale.

    A frame larger than `MEASURED_REGION` is measured on its centre region of that size, cut on the block grid
    (the same pixels at native resolution, so like is still compared with like; bounded cost at any size).
    """
    ys = [luma(_centre(f)) for f in frames]
    return {
        "blockiness": nan_mean([blockiness(y) for y in ys]),
        "sharpness": float(np.mean([sharpness(y) for y in ys])),
    }


def nan_mean(values) -> float:
    """The mean of the values that are not NaN; NaN when none is (numpy's `nanmean` then warns "Mean of empty
    slice" into the service's log for every video whose frames have nothing to measure, a black one say)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[~np.isnan(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def _centre(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    max_w, max_h = MEASURED_REGION
    x0 = max(0, (w - max_w) // 2) // BLOCK * BLOCK
    y0 = max(0, (h - max_h) // 2) // BLOCK * BLOCK
    return frame[y0 : y0 + max_h, x0 : x0 + max_w]


def sample_indices(num_frames: int, n_frames: int = 4) -> list[int]:
    """`n_frames` frame indices spread evenly over the video (fewer for a shorter one)."""
    return sorted({int(i) for i in np.linspace(0, max(num_frames - 1, 0), min(n_frames, num_frames)).round()})


def drift_frame_indices(num_frames: int, params: ClipParams | None = None) -> list[int]:
    """The frames frame quality is measured on: the first frames of 4 evenly chosen clip windows of `params`
    (the service's 8 windows by default), so for an upload they are frames decoded for its clips anyway;
    evenly spread frames for a video shorter than a clip."""
    starts = plan_clip_starts(num_frames, params or ClipParams(clips_per_video=8))
    if not starts:
        return sample_indices(num_frames, 4)
    return [starts[i] for i in sample_indices(len(starts), 4)]


def video_features(
    source: str | Path | VideoReader, face_size: float | None = None, params: ClipParams | None = None
) -> dict:
    """All drift columns of one video (a path, or a reader already open on it), measured on the frames
    `drift_frame_indices` names for the windows of `params`. `face_size` (median face side in pixels) comes
    from its clips."""
    if not isinstance(source, VideoReader):
        with VideoReader(source) as reader:
            return video_features(reader, face_size, params)
    indices = drift_frame_indices(source.num_frames, params)
    read = source.windows([[i] for i in indices], shift=False, stored=indices)
    lumas = [w.luma[w.indices[0]] for w in read if w.indices]  # the stored luma, as the service measures it
    quality = frame_quality(lumas) if lumas else {"blockiness": float("nan"), "sharpness": float("nan")}
    return quality_columns(source.info, face_size, quality)


def quality_columns(info: VideoInfo, face_size: float | None, quality: dict[str, float]) -> dict:
    """The drift row: resolution and container columns from `info`, `quality` (`frame_quality` of some of its
    upright frames) and the face size. The service passes the quality of frames it decoded for clips, so an
    upload is decoded once."""
    pixels = info.width * info.height
    return {
        "width": info.width,
        "height": info.height,
        "pixels": pixels,
        "fps": info.fps,
        "duration_s": info.duration_s,
        "bitrate": info.bitrate,
        "bits_per_pixel": info.bitrate / (pixels * info.fps) if pixels and info.fps else float("nan"),
        **quality,
        "face_size": float(face_size) if face_size is not None else float("nan"),
        "codec": info.codec,
        "pixel_format": info.pixel_format,
    }

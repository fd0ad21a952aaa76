"""Frames to H.264 and back, in memory (PyAV's libx264): what the clip store's `h264` format and the compression
augmentation both do, with their own quality settings."""

from __future__ import annotations

import io

import numpy as np


def encode_h264(
    frames: np.ndarray, crf: int, pix_fmt: str = "yuv420p", preset: str = "medium", **options: str
) -> bytes:
    """uint8 RGB frames (T, H, W, 3) as an MP4 of one H.264 stream at 25 fps, single-threaded (deterministic).

    `pix_fmt`: yuv420p (as published videos are) or yuv444p (no chroma loss); `options`: more x264 options
    (e.g. tune="film").
    """
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        stream.options = {"crf": str(crf), "preset": preset, **options, "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode(None))
    return buf.getvalue()


def decode_frames(data: bytes) -> np.ndarray:
    """Every frame of an in-memory video's first stream, uint8 RGB (T, H, W, 3)."""
    import av

    with av.open(io.BytesIO(data), "r") as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])

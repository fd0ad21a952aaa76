"""Probe video files and read exactly the frames asked for.

Probing uses PyAV (container metadata without decoding the stream); frame reading uses decord's
`VideoReader.get_batch`, which seeks to and decodes only the requested indices. Every failure is turned
into a `VideoError` with the file name and the reason, so a catalog can record it instead of crashing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict


class VideoError(Exception):
    """A file that cannot be used as a video; the message says which file and why."""


class VideoLimitError(VideoError):
    """A readable video that exceeds a configured limit (size, duration, frames or pixels)."""


class NoVideoStream(VideoError):
    """A readable container without a video stream (audio only, subtitles, data)."""


class VideoLimits(BaseModel):
    """Bounds checked before any frame is decoded, so one huge upload cannot exhaust memory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = 2_000_000_000
    max_duration_s: float = 3600.0
    max_frames: int = 200_000
    max_pixels: int = 3840 * 2160


@dataclass(frozen=True)
class VideoInfo:
    """Container and stream metadata of one video file."""

    path: str
    container: str
    codec: str
    pixel_format: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    bitrate: int
    file_size: int
    rotation: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def probe(path: str | Path, limits: VideoLimits | None = None) -> VideoInfo:
    """Read the metadata of a video and check it against `limits`.

    Raises `VideoError` for anything that is not a decodable video stream (zero bytes, text, truncated
    container, audio only) and `VideoLimitError` when a limit is exceeded.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if limits is not None and size > limits.max_bytes:
        raise VideoLimitError(f"{path}: file is {size} bytes, over the limit of {limits.max_bytes}")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as exc:  # PyAV raises many FFmpeg error subclasses
        raise VideoError(f"{path}: not a readable video container ({type(exc).__name__}: {exc})") from exc
    try:
        if not container.streams.video:
            raise NoVideoStream(f"{path}: no video stream (audio-only or data file)")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            raise VideoError(f"{path}: video stream has no frame size")
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        duration = _duration_s(container, stream)
        frames = int(stream.frames or 0)
        if frames <= 0 and fps > 0 and duration > 0:
            frames = round(duration * fps)
        if frames <= 0:
            raise VideoError(f"{path}: video stream reports no frames")
        if duration <= 0 and fps > 0:
            duration = frames / fps
        bitrate = int(stream.bit_rate or container.bit_rate or 0)
        if bitrate <= 0 and duration > 0:
            bitrate = int(size * 8 / duration)
        info = VideoInfo(
            path=str(path),
            container=str(container.format.name),
            codec=str(ctx.name),
            pixel_format=str(stream.format.name if stream.format else ctx.pix_fmt or "unknown"),
            width=width,
            height=height,
            fps=fps,
            frame_count=frames,
            duration_s=float(duration),
            bitrate=bitrate,
            file_size=size,
            rotation=_rotation(stream),
        )
    finally:
        container.close()
    if limits is not None:
        check_limits(info, limits)
    return info


def check_limits(info: VideoInfo, limits: VideoLimits) -> None:
    """Raise `VideoLimitError` naming the first limit that `info` exceeds."""
    if info.duration_s > limits.max_duration_s:
        raise VideoLimitError(
            f"{info.path}: duration {info.duration_s:.1f}s is over the limit of {limits.max_duration_s:.0f}s"
        )
    if info.frame_count > limits.max_frames:
        raise VideoLimitError(f"{info.path}: {info.frame_count} frames is over the limit of {limits.max_frames}")
    if info.width * info.height > limits.max_pixels:
        raise VideoLimitError(
            f"{info.path}: {info.width}x{info.height} is over the limit of {limits.max_pixels} pixels per frame"
        )


def _duration_s(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _rotation(stream) -> int:
    """Display rotation in degrees (phones store portrait video as rotated landscape)."""
    try:
        side = getattr(stream, "side_data", None) or {}
        value = side.get("DISPLAYMATRIX") if hasattr(side, "get") else None
        return round(float(value)) % 360 if value is not None else 0
    except (TypeError, ValueError):
        return 0


class FrameReader:
    """Random access to decoded RGB frames of one video through decord.

    `num_frames` is what decord indexed, which can be fewer than the container claims for a truncated
    file; callers plan clips from it, never from the probe alone.
    """

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        import decord

        self.path = str(path)
        try:
            self._reader = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=num_threads)
        except Exception as exc:
            raise VideoError(f"{self.path}: decord cannot open it ({type(exc).__name__}: {exc})") from exc
        self.num_frames = len(self._reader)
        if self.num_frames <= 0:
            raise VideoError(f"{self.path}: decord found no frames")
        self.fps = float(self._reader.get_avg_fps() or 0.0)

    def get(self, indices: list[int] | np.ndarray) -> np.ndarray:
        """Frames at `indices` as uint8 (N, H, W, 3) RGB."""
        indices = [int(i) for i in indices]
        bad = [i for i in indices if i < 0 or i >= self.num_frames]
        if bad:
            raise VideoError(f"{self.path}: frame indices {bad[:3]} outside 0..{self.num_frames - 1}")
        try:
            return self._reader.get_batch(indices).asnumpy()
        except Exception as exc:
            raise VideoError(f"{self.path}: decoding frames {indices[0]}..{indices[-1]} failed ({exc})") from exc

    def frame_time_s(self, index: int) -> float:
        """Presentation time of a frame, robust to variable frame rate streams."""
        try:
            return float(self._reader.get_frame_timestamp(int(index))[0])
        except Exception:
            return index / self.fps if self.fps > 0 else math.nan

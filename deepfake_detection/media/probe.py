"""Choose the video stream of a file and measure its facts from that stream.

Container headers lie or are missing in files people really send: an AVI that claims 360 frames and holds
120, a browser's MediaRecorder WebM with no duration at all, an MP4 whose first "video" stream is a cover
picture. So the probe (PyAV) chooses the stream on purpose and measures what it reports from it:

- stream choice: attached pictures (cover art, thumbnails) are skipped; among the rest the stream marked
  `default` wins, else the one with the most pixels, else the first;
- frame count, presentation timestamps, duration, frame rate and bitrate come from demuxing that stream's
  packets (no decoding; ~1 ms for a 10 s 1080p file), not from headers;
- rotation (the display matrix phones write) and decodability come from decoding its first frame, so
  width and height are those of the upright picture, and a codec nothing here can decode is named.

Times are seconds of presentation time from the first frame: the first frame is at 0.0 whatever the
stream's start time (which is reported as `start_s`).
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
    """A readable container without a video stream (audio only, subtitles, data, only a cover picture)."""


class UnsupportedCodec(VideoError):
    """A video stream whose codec no decoder here can decode; the message names the codec."""


class VideoLimits(BaseModel):
    """Bounds checked before any frame past the first is decoded, so one huge upload cannot exhaust memory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = 2_000_000_000
    max_duration_s: float = 3600.0
    max_frames: int = 200_000
    max_pixels: int = 3840 * 2160


@dataclass(frozen=True)
class VideoInfo:
    """Facts of the one video stream that is analysed, all measured on that stream.

    `width`/`height` are of the upright picture (after `rotation`); `rotation` is the display rotation in
    degrees counter-clockwise that turns the stored pixels upright (0, 90, 180 or 270); `frame_count`,
    `duration_s`, `fps` and `bitrate` (bits/s of the video stream) are measured from its packets;
    `start_s` is the first frame's presentation time in the container; `decoder` is what decoded the frames
    ("decord" or "pyav"; empty from a bare probe).
    """

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
    start_s: float = 0.0
    stream_index: int = 0
    decoder: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StreamIndex:
    """Per-frame timing of the chosen stream in presentation order (what the reader seeks and times by).

    `pts`: presentation timestamps in `time_base` units, sorted; `times_s`: seconds from the first frame;
    `keyframe_pts`: timestamps of the key frames a decoder can start from; `frame_end_s`: when the last frame
    stops showing.
    """

    stream_index: int
    time_base: float
    pts: np.ndarray
    times_s: np.ndarray
    keyframe_pts: np.ndarray
    frame_end_s: float
    has_pts: bool = True


def choose_video_stream(container):
    """The stream to analyse: not an attached picture; `default` disposition first, then most pixels.

    Returns None when the container has no video stream other than cover pictures.
    """
    import av

    attached = int(av.stream.Disposition.attached_pic)
    candidates = [s for s in container.streams.video if not int(s.disposition) & attached]
    if not candidates:
        return None
    default = int(av.stream.Disposition.default)

    def rank(stream) -> tuple[bool, int, int]:
        ctx = stream.codec_context
        pixels = int(ctx.width or 0) * int(ctx.height or 0) if ctx is not None else 0
        return (bool(int(stream.disposition) & default), pixels, -stream.index)

    return max(candidates, key=rank)


def probe(path: str | Path, limits: VideoLimits | None = None) -> VideoInfo:
    """The facts of the video stream of `path` (see the module docstring), checked against `limits`.

    Raises `VideoError` for anything that is not a decodable video (zero bytes, text, truncated or corrupt
    container), `NoVideoStream` without a video stream, `UnsupportedCodec` for a codec that cannot be
    decoded, and `VideoLimitError` when a limit is exceeded.
    """
    return probe_stream(path, limits)[0]


def probe_stream(path: str | Path, limits: VideoLimits | None = None) -> tuple[VideoInfo, StreamIndex]:
    """`probe`, plus the stream's per-frame index for a reader (one demux pass serves both)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if limits is not None and size > limits.max_bytes:
        raise VideoLimitError(f"{path}: file is {size} bytes, over the limit of {limits.max_bytes}")
    container = _open(path)
    try:
        stream = choose_video_stream(container)
        if stream is None:
            what = "only a cover picture" if container.streams.video else "audio-only or data file"
            raise NoVideoStream(f"{path}: no video stream ({what})")
        ctx = stream.codec_context
        if ctx is None:
            raise UnsupportedCodec(f"{path}: video stream {stream.index} is in a codec FFmpeg does not recognise")
        coded_w, coded_h = int(ctx.width or 0), int(ctx.height or 0)
        if coded_w <= 0 or coded_h <= 0:
            raise VideoError(f"{path}: video stream has no frame size")
        if limits is not None and coded_w * coded_h > limits.max_pixels:
            raise VideoLimitError(
                f"{path}: {coded_w}x{coded_h} is over the limit of {limits.max_pixels} pixels per frame"
            )
        header_rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        header_fps = float(header_rate) if header_rate else 0.0
        rotation = _rotation(_first_frame(path, container, stream))
        facts = {
            "container": str(container.format.name),
            "codec": str(ctx.codec.canonical_name or ctx.name),  # "av1", not the decoder's "libdav1d"
            "pixel_format": str(stream.format.name if stream.format else ctx.pix_fmt or "unknown"),
            "header_bitrate": int(stream.bit_rate or container.bit_rate or 0),
        }
        stream_index = stream.index
    finally:
        container.close()
    container = _open(path)  # a fresh demuxer from the start: the first decode consumed packets
    try:
        index, video_bytes = _measure_packets(path, container, container.streams[stream_index], header_fps)
    finally:
        container.close()
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    n = len(index.pts)
    duration = index.frame_end_s
    fps = (n - 1) / float(index.times_s[-1]) if n > 1 and index.times_s[-1] > 0 else header_fps
    info = VideoInfo(
        path=str(path),
        container=facts["container"],
        codec=facts["codec"],
        pixel_format=facts["pixel_format"],
        width=width,
        height=height,
        fps=fps,
        frame_count=n,
        duration_s=float(duration),
        bitrate=int(video_bytes * 8 / duration) if duration > 0 else facts["header_bitrate"],
        file_size=size,
        rotation=rotation,
        start_s=float(index.pts[0] * index.time_base) if index.has_pts else 0.0,
        stream_index=stream_index,
    )
    if limits is not None:
        check_limits(info, limits)
    return info, index


def _open(path: Path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as exc:  # PyAV raises many FFmpeg error subclasses
        raise VideoError(f"{path}: not a readable video container ({type(exc).__name__}: {exc})") from exc


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


def _measure_packets(path: Path, container, stream, header_fps: float) -> tuple[StreamIndex, int]:
    """Demux the stream (no decoding): its frames' timestamps, key frames and bytes.

    A packet without a presentation timestamp falls back to its decode timestamp; a stream with neither
    (raw elementary streams) is timed by the header frame rate. A read error part-way (a truncated file)
    ends the index there: what was demuxed is what a decoder can reach.
    """
    time_base = float(stream.time_base) if stream.time_base else 0.0
    stamps: list[int | None] = []
    keys: list[int | None] = []
    durations: list[int] = []
    total = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            stamps.append(stamp)
            durations.append(int(packet.duration or 0))
            if packet.is_keyframe:
                keys.append(stamp)
            total += packet.size
    except Exception as exc:
        if not stamps:
            raise VideoError(f"{path}: no video packet could be read ({type(exc).__name__}: {exc})") from exc
    if not stamps:
        raise VideoError(f"{path}: video stream holds no frames")
    step = 1.0 / header_fps if header_fps > 0 else 0.0
    has_pts = time_base > 0 and all(s is not None for s in stamps)
    if has_pts:
        pts = np.sort(np.asarray(stamps, dtype=np.int64))
        times = (pts - pts[0]).astype(np.float64) * time_base
        keyframes = np.sort(np.asarray([k for k in keys if k is not None], dtype=np.int64))
        last = max(durations[int(np.argmax(stamps))] * time_base, 0.0)
        if last <= 0:
            diffs = np.diff(times)
            last = float(np.median(diffs)) if len(diffs) else step
    else:  # no timestamps: frames are numbered and timed by the nominal rate
        if step <= 0:
            raise VideoError(f"{path}: video stream has neither timestamps nor a frame rate")
        pts = np.arange(len(stamps), dtype=np.int64)
        times = pts * step
        keyframes = np.zeros(1, dtype=np.int64)
        last = step
    end = float(times[-1] + (last if math.isfinite(last) else 0.0))
    index = StreamIndex(stream.index, time_base, pts, times, keyframes, end, has_pts)
    return index, total


def _first_frame(path: Path, container, stream):
    """Decode the stream's first frame: proves a decoder exists and carries the display rotation."""
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.error.DecoderNotFoundError as exc:
        raise UnsupportedCodec(f"{path}: no decoder here for the video codec {stream.codec_context.name}") from exc
    except Exception as exc:
        raise VideoError(f"{path}: the {stream.codec_context.name} stream cannot be decoded ({exc})") from exc
    raise VideoError(f"{path}: the {stream.codec_context.name} stream decodes to no frame")


def _rotation(frame) -> int:
    """Display rotation of a decoded frame in degrees counter-clockwise, snapped to 0/90/180/270."""
    try:
        angle = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        return 0
    return round(angle / 90.0) * 90 % 360

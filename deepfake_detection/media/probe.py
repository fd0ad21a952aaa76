"""Choose the video stream of a file and measure its facts from that stream, as a viewer would see it.

Container headers lie or are missing in files people really send: an AVI that claims 360 frames and holds
120, a browser's MediaRecorder WebM with no duration at all, an MP4 whose first "video" stream is a cover
picture, an MP4 trimmed by stream copy that still holds the frames before the cut. So the probe (PyAV,
FFmpeg's demuxers restricted to video containers: `media.formats`) chooses the stream on purpose and measures
what it reports from it:

- stream choice: attached pictures (cover art, thumbnails) are skipped; among the rest the stream marked
  `default` wins, else the one with the most pixels, else the first;
- frame count, presentation timestamps, duration, frame rate and bitrate come from demuxing that stream's
  packets (no decoding; ~1 ms for a 10 s 1080p file), not from headers. Packets an edit list hides (the
  lead-in of a trimmed MP4, flagged `discard` by FFmpeg) are not frames of the video: they are decoded only to
  reach the first shown frame;
- joined recordings (an MPEG-TS whose clock restarts): the timestamps are cut into segments where they jump
  back (or, in formats that allow discontinuities, forward by more than a second) and the segments are laid
  end to end, so times are monotonic and the count is right; the number of jumps is reported;
- rotation (the display matrix phones write), the sample aspect ratio (non-square pixels: DV, HDV, some
  broadcast) and decodability come from decoding the first frame, so `width` and `height` are those of the
  upright, square-pixel picture a player shows, and a codec nothing here can decode is named.

Times are seconds of presentation time from the first shown frame: the first frame is at 0.0 whatever the
stream's start time (which is reported as `start_s`).

Errors carry a short `code`, a sentence a person reads (`message`: no path, no decoder text) and, for logs,
the path and the decoder's own words (`detail`); `str(error)` is "path: message".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.media.formats import OPEN_OPTIONS, SNIFF_BYTES, described, family_of, sniff_container

TS_DISCONT = 0x0200  # AVFMT_TS_DISCONT: the format allows timestamp discontinuities (MPEG-TS, MPEG-PS, FLV)
# Containers whose timestamps do not identify frames: AVI numbers packets in decode order (packed B-frames get
# each other's numbers), so there the decoder's output order is the presentation order.
COUNTED_CONTAINERS = ("avi",)  # (family names: `media.formats`)


class VideoError(Exception):
    """A file that cannot be used as a video.

    `code`: a short reason (`unreadable`, `empty`, ...); `message`: one sentence for a person, naming no path;
    `detail`: the decoder's own words, for logs only; `str(error)`: "path: message".
    """

    code = "unreadable"

    def __init__(self, path: str | Path, message: str, detail: str | None = None, code: str | None = None) -> None:
        self.path, self.message, self.detail = str(path), message, detail
        if code is not None:
            self.code = code
        super().__init__(f"{path}: {message}")

    def __reduce__(self):  # errors cross processes (decode workers, Ray tasks) whole
        return type(self), (self.path, self.message, self.detail, self.code)


class VideoLimitError(VideoError):
    """A readable video that exceeds a configured limit (size, duration, frames or pixels)."""

    code = "over_limit"


class NoVideoStream(VideoError):
    """A readable container without a video stream (audio only, subtitles, data, only a cover picture)."""

    code = "no_video_stream"


class NotAVideo(VideoError):
    """A file that is no video at all: empty, or no container FFmpeg opens and its first bytes name none (the
    service's door refuses these uploads with the same codes)."""

    code = "not_a_video"


class UnsupportedCodec(VideoError):
    """A video stream whose codec no decoder here can decode; the message names the codec."""

    code = "unsupported_codec"


class VideoLimits(BaseModel):
    """Bounds checked before any frame past the first is decoded, so one huge upload cannot exhaust memory.

    The work per video is bounded by the clip windows, not by its length (`media.reader` seeks where that is
    cheaper), so duration and frame limits only bound the probe's index (~16 bytes per frame).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = 2_000_000_000
    max_duration_s: float = 6 * 3600.0
    max_frames: int = 1_000_000
    max_pixels: int = Field(3840 * 2160, description="pixels of a stored frame (what the decoder allocates)")


@dataclass(frozen=True)
class VideoInfo:
    """Facts of the one video stream that is analysed, all measured on that stream.

    `width`/`height`: the picture a player shows (sample aspect ratio applied, then `rotation`), which is what
    every box and crop refers to; `coded_width`/`coded_height`: the stored picture; `sample_aspect_ratio`:
    the shape of a stored pixel ("4:3": 4 units wide for 3 high); `rotation`: display rotation in degrees
    counter-clockwise that turns the stored pixels upright (0, 90, 180 or 270); `frame_count`, `duration_s`,
    `fps` and `bitrate` (bits/s of the video stream) are measured from its shown packets; `start_s` is the
    first shown frame's presentation time in the container; `timestamps`: "container" when frames are known by
    their timestamps, "decode order" where the container's are not trustworthy (AVI) or absent (raw streams);
    `discontinuities`: where the timestamps jump (joined recordings); `hidden_frames`: frames stored before or
    after what an edit list shows; `decoder`: what decoded the frames.
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
    decoder: str = "pyav"
    coded_width: int = 0
    coded_height: int = 0
    sample_aspect_ratio: str = "1:1"
    timestamps: str = "container"
    discontinuities: int = 0
    hidden_frames: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the square-pixel picture before rotation: what a stored frame is scaled to."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass(frozen=True)
class StreamIndex:
    """Per-frame timing of the chosen stream in presentation order (what the reader seeks, times and matches by).

    `pts`: presentation timestamps in `time_base` units, sorted within each segment; `segment`: the segment of
    each frame (0 unless the timestamps jump); `times_s`: seconds from the first frame, monotonic over the
    segments; `keyframes`: presentation indices of the key frames a decoder can start from; `frame_end_s`:
    when the last frame stops showing; `trusted`: timestamps identify frames (else frames are counted in the
    decoder's output order).
    """

    stream_index: int
    time_base: float
    pts: np.ndarray
    segment: np.ndarray
    times_s: np.ndarray
    keyframes: np.ndarray
    frame_end_s: float
    trusted: bool = True
    segments: int = 1

    @property
    def seekable(self) -> bool:
        """Whether a timestamp names one frame, so that a seek can be checked (one segment, trusted times)."""
        return self.trusted and self.segments == 1

    @cached_property
    def _by_key(self) -> dict[tuple[int, int], int]:
        return {(int(s), int(p)): i for i, (s, p) in enumerate(zip(self.segment, self.pts, strict=True))}

    def lookup(self, segment: int, pts: int | None) -> int | None:
        """The presentation index of the frame with timestamp `pts` in `segment`, or None."""
        return None if pts is None else self._by_key.get((segment, int(pts)))

    def keyframe_at_or_before(self, index: int) -> int:
        """The last key frame at or before presentation index `index` (0 when none is known)."""
        pos = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[pos]) if pos >= 0 else 0


@dataclass
class _Packets:
    """What demuxing the stream found, in decode order (shown packets only)."""

    stamps: list[int | None] = field(default_factory=list)
    dts: list[int | None] = field(default_factory=list)
    keys: list[bool] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    bytes: int = 0
    hidden: int = 0


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


class DemuxListener(Protocol):
    """Sees the probe's one demux pass, so other facts of the file need no second read (`evidence` uses it).

    `streams(container)`: streams to demux beside the video (e.g. audio); `packet(packet)`: each of their
    packets; `done(container, first_video_packet, error)`: once, with the container still open, the analysed
    stream's first packet (bytes) and the exception that cut the pass short (None when it ran to the end).
    """

    def streams(self, container) -> list: ...

    def packet(self, packet) -> None: ...

    def done(self, container, first_video_packet: bytes | None, error: Exception | None) -> None: ...


def probe_stream(
    path: str | Path, limits: VideoLimits | None = None, listener: DemuxListener | None = None
) -> tuple[VideoInfo, StreamIndex]:
    """`probe`, plus the stream's per-frame index for a reader (one demux pass serves both, and `listener`)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "no such file", code="missing")
    size = path.stat().st_size
    if size == 0:
        raise NotAVideo(path, "the file is empty (0 bytes)", code="empty")
    if limits is not None and size > limits.max_bytes:
        raise VideoLimitError(path, f"the file is {size} bytes, over the limit of {limits.max_bytes}")
    container = open_container(path)
    try:
        stream = choose_video_stream(container)
        if stream is None:
            what = "it holds only a cover picture" if container.streams.video else "it holds only audio or data"
            raise NoVideoStream(path, f"no video stream: {what}")
        ctx = stream.codec_context
        if ctx is None:
            raise UnsupportedCodec(path, f"video stream {stream.index} is in a codec FFmpeg does not recognise")
        if limits is not None and int(ctx.width or 0) * int(ctx.height or 0) > limits.max_pixels:
            raise VideoLimitError(
                path, f"{ctx.width}x{ctx.height} is over the limit of {limits.max_pixels} pixels per frame"
            )
        first = _first_frame(path, container, stream)
        coded_w, coded_h = int(first.width), int(first.height)
        if coded_w <= 0 or coded_h <= 0:
            raise VideoError(path, "the video stream has no frame size")
        header_rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        facts = {
            "container": family_of(str(container.format.name)),
            "codec": str(ctx.codec.canonical_name or ctx.name),  # "av1", not the decoder's "libdav1d"
            "pixel_format": str(stream.format.name if stream.format else ctx.pix_fmt or "unknown"),
            "header_bitrate": int(stream.bit_rate or container.bit_rate or 0),
            "discontinuous": bool(int(container.format.flags) & TS_DISCONT),
            "sar": _sample_aspect_ratio(stream),
            "rotation": _rotation(first),
        }
        stream_index = stream.index
    finally:
        container.close()
    container = open_container(path)  # a fresh demuxer from the start: the first decode consumed packets
    try:
        packets = _demux(path, container, container.streams[stream_index], listener)
        time_base = float(container.streams[stream_index].time_base or 0)
    finally:
        container.close()
    header_fps = float(header_rate) if header_rate else 0.0
    trusted = facts["container"] not in COUNTED_CONTAINERS
    index = _index(path, stream_index, time_base, packets, header_fps, facts["discontinuous"], trusted)
    sar, rotation = facts["sar"], facts["rotation"]
    # the displayed width, even (as FFmpeg's `scale=iw*sar:ih` needs it for 4:2:0 video): within a pixel of the shape
    shown_w = coded_w if sar == 1 else max(2, 2 * round(coded_w * float(sar) / 2))
    width, height = (coded_h, shown_w) if rotation in (90, 270) else (shown_w, coded_h)
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
        bitrate=int(packets.bytes * 8 / duration) if duration > 0 else facts["header_bitrate"],
        file_size=size,
        rotation=rotation,
        start_s=float(index.pts[0] * index.time_base),
        stream_index=stream_index,
        coded_width=coded_w,
        coded_height=coded_h,
        sample_aspect_ratio=f"{sar.numerator}:{sar.denominator}",
        timestamps="container" if index.trusted else "decode order",
        discontinuities=index.segments - 1,
        hidden_frames=packets.hidden,
    )
    if limits is not None:
        check_limits(info, limits)
    return info, index


def open_container(path: str | Path):
    """The file opened by FFmpeg with only video-container demuxers and the file protocol (`media.formats`)."""
    import av

    try:
        return av.open(str(path), options=dict(OPEN_OPTIONS), metadata_errors="ignore")
    except Exception as exc:  # PyAV raises many FFmpeg error subclasses
        family = _family_by_its_first_bytes(path)
        if family is None:
            raise NotAVideo(
                path, f"not a video file this service reads (accepted containers: {described()})",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc  # fmt: skip
        raise VideoError(
            path,
            f"the file could not be opened as {family} video: it may be damaged or cut short",
            detail=f"{type(exc).__name__}: {exc}",
            code="unreadable",
        ) from exc


def _family_by_its_first_bytes(path: str | Path) -> str | None:
    try:
        with open(path, "rb") as file:
            return sniff_container(file.read(SNIFF_BYTES))
    except OSError:
        return None


def check_limits(info: VideoInfo, limits: VideoLimits) -> None:
    """Raise `VideoLimitError` naming the first limit that `info` exceeds."""
    if info.duration_s > limits.max_duration_s:
        raise VideoLimitError(
            info.path, f"the video lasts {info.duration_s:.1f}s, over the limit of {limits.max_duration_s:.0f}s"
        )
    if info.frame_count > limits.max_frames:
        raise VideoLimitError(info.path, f"{info.frame_count} frames is over the limit of {limits.max_frames}")
    coded = info.coded_width * info.coded_height
    if coded > limits.max_pixels:
        raise VideoLimitError(
            info.path,
            f"{info.coded_width}x{info.coded_height} is over the limit of {limits.max_pixels} pixels per frame",
        )
    if info.width * info.height > 2 * max(limits.max_pixels, coded):  # non-square pixels widen the picture
        raise VideoLimitError(
            info.path, f"its non-square pixels ({info.sample_aspect_ratio}) make the picture {info.width}x{info.height}"
            f", over twice the limit of {limits.max_pixels} pixels per frame",
        )  # fmt: skip


def _demux(path: Path, container, stream, listener: DemuxListener | None = None) -> _Packets:
    """Demux the stream (no decoding): its shown packets' timestamps, key flags and bytes, in decode order.

    A read error part-way (a truncated file) ends the list there: what was demuxed is what a decoder can reach.
    """
    found = _Packets()
    extra = listener.streams(container) if listener is not None else []
    first, error = None, None
    try:
        for packet in container.demux([stream, *extra]):
            if packet.stream_index != stream.index:
                listener.packet(packet)
                continue
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            if first is None:
                first = bytes(packet)
            if packet.is_discard:  # before (or after) what the edit list shows: decoded, never shown
                found.hidden += 1
                continue
            found.stamps.append(packet.pts if packet.pts is not None else packet.dts)
            found.dts.append(packet.dts)
            found.keys.append(bool(packet.is_keyframe))
            found.durations.append(int(packet.duration or 0))
            found.bytes += packet.size
    except Exception as exc:
        error = exc
        if not found.stamps:
            raise VideoError(
                path, "no video packet could be read", detail=f"{type(exc).__name__}: {exc}", code="unreadable"
            ) from exc
    finally:
        if listener is not None:
            listener.done(container, first, error)
    if not found.stamps:
        raise VideoError(path, "the video stream holds no frames", code="no_frames")
    return found


def _index(
    path: Path, stream_index: int, time_base: float, packets: _Packets, header_fps: float, discontinuous: bool,
    trusted: bool,
) -> StreamIndex:  # fmt: skip
    """The presentation-order index of the demuxed packets (see `StreamIndex`)."""
    step = 1.0 / header_fps if header_fps > 0 else 0.0
    has_pts = time_base > 0 and all(s is not None for s in packets.stamps)
    if not has_pts:  # no timestamps (raw streams): frames are numbered and timed by the nominal rate
        if step <= 0:
            raise VideoError(path, "the video stream has neither timestamps nor a frame rate", code="no_timing")
        n = len(packets.stamps)
        pts = np.arange(n, dtype=np.int64)
        keys = np.flatnonzero(np.asarray(packets.keys)) if any(packets.keys) else np.zeros(1, dtype=np.int64)
        return StreamIndex(stream_index, 0.0, pts, np.zeros(n, dtype=np.int64), pts * step, keys, n * step, False)
    stamps = np.asarray(packets.stamps, dtype=np.int64)
    cuts = np.zeros(0, dtype=np.int64)
    if all(d is not None for d in packets.dts):  # decode timestamps only ever grow, unless the clock restarted
        steps = np.diff(np.asarray(packets.dts, dtype=np.int64))
        jump = max(1.0, 30 * step) / time_base if discontinuous else math.inf
        cuts = np.flatnonzero((steps < 0) | (steps > jump)) + 1
    bounds = [0, *cuts.tolist(), len(stamps)]
    pts_parts, seg_parts, time_parts, key_sets = [], [], [], []
    offset, first_index = 0.0, 0
    for seg, (lo, hi) in enumerate(pairwise(bounds)):
        order = np.argsort(stamps[lo:hi], kind="stable")
        seg_pts = stamps[lo:hi][order]
        seg_times = offset + (seg_pts - seg_pts[0]).astype(np.float64) * time_base
        keys_here = np.flatnonzero(np.asarray(packets.keys[lo:hi])[order]) + first_index
        pts_parts.append(seg_pts)
        seg_parts.append(np.full(len(seg_pts), seg, dtype=np.int64))
        time_parts.append(seg_times)
        key_sets.append(keys_here)
        last = _last_duration(packets.durations[lo:hi], stamps[lo:hi], seg_times, time_base, step)
        offset = float(seg_times[-1] + last)
        first_index += len(seg_pts)
    keyframes = np.concatenate(key_sets) if key_sets else np.zeros(0, dtype=np.int64)
    return StreamIndex(
        stream_index, time_base, np.concatenate(pts_parts), np.concatenate(seg_parts), np.concatenate(time_parts),
        keyframes.astype(np.int64), offset, trusted, len(bounds) - 1,
    )  # fmt: skip


def _last_duration(durations: list[int], stamps: np.ndarray, times: np.ndarray, time_base: float, step: float) -> float:
    """How long the last frame of a segment shows: its packet's duration, else the median frame step."""
    last = max(durations[int(np.argmax(stamps))] * time_base, 0.0)
    if last <= 0:
        diffs = np.diff(times)
        last = float(np.median(diffs)) if len(diffs) else step
    return last if math.isfinite(last) else 0.0


def _first_frame(path: Path, container, stream):
    """Decode the stream's first frame: proves a decoder exists and carries the display rotation and size."""
    import av

    name = stream.codec_context.name
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.DecoderNotFoundError as exc:
        raise UnsupportedCodec(path, f"no decoder here for the video codec {name}") from exc
    except Exception as exc:
        raise VideoError(
            path, f"the {name} video stream cannot be decoded", detail=f"{type(exc).__name__}: {exc}"
        ) from exc
    raise VideoError(path, f"the {name} video stream decodes to no frame", code="no_frames")


def _sample_aspect_ratio(stream) -> Fraction:
    """The stored pixel's shape: the container's value (MP4 `pasp`, Matroska display size) over the codec's."""
    for value in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        try:
            sar = Fraction(value) if value is not None else Fraction(0)
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if 0.1 <= sar <= 10 and sar != 0:
            return sar
    return Fraction(1)


def _rotation(frame) -> int:
    """Display rotation of a decoded frame in degrees counter-clockwise, snapped to 0/90/180/270."""
    try:
        angle = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        return 0
    return round(angle / 90.0) * 90 % 360

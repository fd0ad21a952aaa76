"""The one reader of video: upright, square-pixel RGB frames as a viewer sees them, read by a decode plan.

Every path that looks at pixels (the data pipeline, serving, batch scoring, drift features) reads videos here,
so every fact reported about a video comes from the stream whose frames were analysed (`media.probe`).

What a viewer sees, frame by frame:

- only the frames an edit list shows, numbered from the first shown frame (the probe's index);
- frames matched by their timestamps where the container's identify them, else (AVI, raw streams) counted in
  the decoder's output order, which is presentation order (packed B-frames in Xvid AVIs carry each other's
  numbers); across the joins of a recording whose clock restarts, segment by segment;
- non-square pixels scaled to square ones and the display rotation applied, so boxes and crops refer to the
  picture a player shows; a picture larger than 1920 pixels on its long side (4K) is analysed at 1920, in the
  same conversion (`media.picture`: only the regions looked at are converted);
- a frame whose size changes mid-stream (a browser recording when the phone turns) is fitted into the first
  frame's picture with its own shape kept (black bars), and the change is recorded;
- a damaged packet costs its own frame only: decoding goes on, and the frames that never came out are
  counted (`stats.lost`); a damaged (concealed) picture counts as lost, never analysed.

The decode plan (`windows`): the frames wanted come in windows (a clip's 16 frames). Between windows the
reader either decodes on, skipping frames that no other frame depends on (FFmpeg's `skip_frame=nonref`), or
seeks to the key frame before the next window, whichever decodes fewer frames by the key-frame positions the
probe measured: one sequential pass for a 10 s phone video with two key frames, a seek per window for an
hour-long film. A seek is checked (it must land at or before the window) and a file where seeks land late is
read on without seeking. A frame is held as decoded (YUV: 3 MB at 1080p; a 4K frame, analysed at 1920 px, held
shrunk to 1920x1080 by block means, 3 MB instead of 12) only until the last window that uses it has been handed
out, so memory is bounded by one window at any resolution, and is converted to RGB only where it is looked at:
the face detector's input at its working size and the face regions, straight from the stored planes
(`media.picture`; a 1080p window with one face: three 720x405 pictures and 16 crops of 224 px, not 16 frames of
1920x1080).

Reading ahead (`windows(ahead=1)`, as clips are cut): the next window is decoded in a thread of the reader's
while the caller finds faces in the last one; the windows, frames and pictures are those of reading in turns
(decimation and luma run on the reading side's own converter, the caller's conversions on another). On a 10 s
1080p file with two key frames the front end went from 1.56 to 1.27 s (2026-12-04); where decoding alone fills
both cores (10 s of 4K) it gains nothing. Closing the reader, or another read, stops the thread first.

PyAV (FFmpeg) is the only decoder: decord, measured frame by frame, returned wrong frames without an error on
edit lists, joined MPEG-TS, MPEG-PS and Xvid AVI, and seeking per window cost 1.4-4.1 s on a 10 s 1080p file
with two key frames that one sequential decode reads in 1.3 s (`benchmarks/bench_footage.py` measures the plan).
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import functools
import queue
import threading
import weakref
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_detection.media.picture import Converter, Picture, plane_samples
from deepfake_detection.media.probe import (
    DemuxListener,
    StreamIndex,
    VideoError,
    VideoInfo,
    VideoLimits,
    open_container,
    probe_stream,
)

SEEK_COST_FRAMES = 4.0  # a seek (demuxer reset, decoder flush) costs about as much as decoding this many frames
SKIPPED_FRAME_COST = 0.6  # a frame passed over between windows, relative to a decoded one (B-frames are skipped)
MAX_SHIFT_WINDOWS = 2  # a window with a lost frame moves forward by at most this many window lengths
MAX_ANALYSED_SIDE = 1920  # larger pictures are analysed at this long side (bounded memory; FF++ tops out at 1080p)


@dataclass
class DecodeStats:
    """What reading cost and what it could not read, for the answer's `video` facts and the benchmarks.

    `lost`: indices of wanted frames the decoder passed without producing a picture (damaged packets);
    `size_changes`: (time s, width, height) where the stored frame size changed; `shifted_windows`: windows
    moved past lost frames.
    """

    frames_decoded: int = 0
    frames_converted: int = 0
    seeks: int = 0
    packets_failed: int = 0
    lost: set[int] = field(default_factory=set)
    size_changes: list[tuple[float, int, int]] = field(default_factory=list)
    shifted_windows: int = 0

    @property
    def plan(self) -> str:
        return "one pass" if self.seeks == 0 else f"{self.seeks} seek{'s' if self.seeks > 1 else ''}"


@dataclass
class Window:
    """One requested window of frames, as read.

    `requested`: the frame indices asked for; `indices`: those read (`requested` moved forward by `shift` past
    lost frames), None when no such run could be read; `frames`: one `Picture` per index, the upright
    square-pixel picture (H, W, 3), converted to RGB uint8 where it is looked at (`rgb()`, `resized`,
    `region`); `luma`: for indices asked for in `windows(stored=...)`, the luma of the stored picture (coded
    size, not rotated; float32 on the 0-255 scale), where block artefacts sit on the codec's grid
    (`stored_luma`); `lost`: requested frames that could not be decoded.
    """

    requested: list[int]
    indices: list[int] | None
    frames: list[Picture]
    shift: int = 0
    lost: list[int] = field(default_factory=list)
    luma: dict[int, np.ndarray] = field(default_factory=dict)


def stored_luma(frame, convert=None) -> np.ndarray:
    """The luma of a decoded frame in its stored grid as float32 on the 0-255 scale (H, W).

    From the decoder's Y plane where the frame has one (limited-range video luma 16-235 stretched to 0-255,
    as the RGB conversion does); from BT.601 RGB otherwise (RGB and palette codecs).
    """
    fmt = frame.format
    first = fmt.components[0]
    if fmt.name.startswith(("yuv", "nv12", "nv21", "gray")) and first.plane == 0 and first.bits <= 16:
        full = fmt.name.startswith(("yuvj", "gray")) or int(frame.color_range) == 2  # AVCOL_RANGE_JPEG
        samples = plane_samples(frame, frame.planes[0])
        if samples.dtype == np.uint8:
            import cv2

            return cv2.LUT(samples, _luma_table(full))  # one pass: ~2 ms for a 4K plane, ~14 ms by arithmetic
        y = samples.astype(np.float32)
        y *= np.float32(1 / (1 << max(first.bits - 8, 0)))
        if not full:
            y -= np.float32(16.0)
            y *= np.float32(255 / 219)
        return y
    rgb = (convert or Converter(1))(frame).astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


@functools.lru_cache(maxsize=2)
def _luma_table(full: bool) -> np.ndarray:
    """float32 0-255 luma of each 8-bit sample value, full or limited (16-235) range: a frame is one lookup."""
    y = np.arange(256, dtype=np.float32)
    return y if full else (y - np.float32(16.0)) * np.float32(255 / 219)


class _LandedLate(Exception):
    """A seek put the decoder after the frame it was meant to reach."""


class _Stopped(Exception):
    """A read was stopped (the reader closed, or another read began)."""


_STOPPED = "the read was stopped: the reader was closed or another read began (one read at a time per reader)"


_LIVE_READS: weakref.WeakSet[_ReadAhead] = weakref.WeakSet()


@atexit.register
def _stop_live_reads() -> None:
    """At exit, stop the reading threads still running: a daemon thread frozen mid-decode while OpenCV's and
    FFmpeg's own threads are torn down aborted the process ("terminate called without an active exception",
    3 of 15 exits with a read ahead left open on 4K, found by a fresh-clone check)."""
    for reading in list(_LIVE_READS):
        reading.close()


class _ReadAhead:
    """Windows read by a thread of their own, at most `ahead` windows before the one handed out: the decoder
    goes on while the caller finds faces in the last window (FFmpeg and OpenCV release the GIL while they work;
    on a 10 s 1080p file with two key frames the front end took 0.16 s, 12 %, less, 2026-12-04).

    Iterating hands out the windows in order and raises what reading raised. `close()` stops the thread and
    waits for it (the reader closes its file only after); a caller still iterating then gets `RuntimeError`.
    """

    _END, _CLOSED = object(), object()

    def __init__(self, windows: Iterator[Window], ahead: int, stop: threading.Event) -> None:
        self.stop = stop
        self._ready: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._thread = threading.Thread(target=self._read, args=(windows,), name="video-read-ahead", daemon=True)
        self._thread.start()
        _LIVE_READS.add(self)

    def __iter__(self) -> Iterator[Window]:
        while True:
            item = self._ready.get()
            if item is self._END:
                return
            if item is self._CLOSED:
                raise RuntimeError(_STOPPED)
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        self._thread.join()
        _LIVE_READS.discard(self)
        with contextlib.suppress(queue.Empty):
            while True:
                self._ready.get_nowait()
        self._ready.put_nowait(self._CLOSED)

    def _read(self, windows: Iterator[Window]) -> None:
        try:
            for window in windows:
                if not self._put(window):
                    return
            item = self._END
        except _Stopped:
            return
        except BaseException as exc:  # raised where the windows are handed out
            item = exc
        self._put(item)

    def _put(self, item) -> bool:
        """Hand `item` over once there is room; False when stopped first."""
        while not self.stop.is_set():
            try:
                self._ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


class _Decoder:
    """One demuxer and decoder on the analysed stream: (presentation index, frame) in presentation order."""

    def __init__(self, path: str, index: StreamIndex, frame_count: int, threads: int, stats: DecodeStats) -> None:
        self._path, self._index, self._n, self._threads, self._stats = path, index, frame_count, threads, stats
        self._container = None
        self.restart()

    def restart(self) -> None:
        """Back to the first frame (a fresh demuxer: seeking to 0 is not possible in every file)."""
        self.close()
        self._container = open_container(self._path)
        self._stream = self._container.streams[self._index.stream_index]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self._threads
        self._reset(position=-1)

    def _reset(self, position: int) -> None:
        self._packets = self._container.demux(self._stream)
        self._pending: deque = deque()
        self.position = position  # the last index handed out
        self._assigned = position  # the last index given to a decoded frame (frames wait in `_pending`)
        self.exhausted = False
        self._segment, self._last_pts = 0, None
        self._seek_target: int | None = None
        self._lost_packets: set[int] = set()

    def seek(self, target: int) -> None:
        """To the key frame at or before `target`; the next frames are checked to land at or before it."""
        key = self._index.keyframe_at_or_before(target)
        self._container.seek(int(self._index.pts[key]), stream=self._stream, backward=True, any_frame=False)
        self._reset(position=key - 1)
        self._seek_target = target
        self._stats.seeks += 1

    def next(self, skippable) -> tuple[int, object] | None:
        """The next shown frame (index, av.VideoFrame), or None at the end of the stream.

        `skippable(index)`: whether the frame of a packet need not be produced (it is then skipped when nothing
        refers to it). Raises `_LandedLate` when a checked seek landed after its target.
        """
        while not self._pending:
            if self.exhausted:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                self.exhausted = True
                return None
            except Exception:  # a demuxer error past the index (truncated tail): what came out is what there is
                self.exhausted = True
                continue
            if packet.size and self._index.seekable:
                index = self._index.lookup(0, packet.pts)
                skip = index is not None and skippable(index)
                self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            try:
                frames = packet.decode()
            except Exception:  # a damaged packet costs its own frame; decoding goes on
                if packet.size:
                    self._stats.packets_failed += 1
                    if not self._index.trusted and packet.pts is not None:
                        lost = self._index.lookup(0, packet.pts)
                        self._lost_packets.update([] if lost is None else [lost])
                continue
            for frame in frames:
                index = self._assign(frame)
                if index is not None and not frame.is_corrupt:
                    self._pending.append((index, frame))
        index, frame = self._pending.popleft()
        self.position = index
        if self._seek_target is not None:
            target, self._seek_target = self._seek_target, None
            if index > target:
                raise _LandedLate(f"seek to frame {target} landed at {index}")
        return index, frame

    def _assign(self, frame) -> int | None:
        """The presentation index of a decoded frame (see the module docstring), or None for one that is not
        a shown frame of the index (or comes again after a seek)."""
        index = self._index
        if index.trusted:
            pts = frame.pts
            if index.segments > 1 and pts is not None and self._last_pts is not None and pts < self._last_pts:
                self._segment = min(self._segment + 1, index.segments - 1)  # the clock restarted: the next part
            found = index.lookup(self._segment, pts)
            if found is None or found <= self._assigned:
                return None
            self._last_pts = pts
        elif self._seek_target is not None and frame.pts is not None:  # counted, after a seek: the key frame's
            found = index.lookup(0, frame.pts)
            found = self._assigned + 1 if found is None else found
        else:
            found = self._assigned + 1
            while found in self._lost_packets:
                found += 1
        if found >= self._n:
            return None
        self._assigned = found
        return found

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class VideoReader:
    """The upright square-pixel RGB frames of the analysed stream of one file (see the module docstring).

    `info` holds the facts, `stats` what reading cost and lost; `num_frames` equals `info.frame_count`. Frames
    are the displayed picture times `scale` (1 unless its long side exceeds `MAX_ANALYSED_SIDE`), `frame_size`
    (width, height) upright; multiply by 1 / `scale` for displayed pixels. Use as a
    context manager, or call `close()`, to release the file. `threads`: decoder threads (0: as many as FFmpeg
    sees fit; 1 where processes already share the cores). `listener`: sees the probe's demux pass (`evidence`).
    One read at a time, from one thread: `windows` (or `get`) stops the read before it, started or not (a read
    ahead's thread is joined first), and a stopped read raises `RuntimeError` when next asked for a window.
    A closed reader stays closed: `windows` and `get` then raise `ValueError`, as a closed file does.
    Raises `VideoError` (and its subclasses, see `media.probe`) when the file cannot be used.
    """

    def __init__(
        self,
        path: str | Path,
        limits: VideoLimits | None = None,
        threads: int = 0,
        listener: DemuxListener | None = None,
    ) -> None:
        self.path = str(path)
        self.info: VideoInfo
        self.info, self._index = probe_stream(path, limits, listener)
        self.stats = DecodeStats()
        self._threads = threads
        self._decoder: _Decoder | None = None
        self._seeking = self._index.seekable
        self._shape: tuple[int, int] | None = None
        self._convert = Converter(threads)  # where pictures are looked at (the caller's thread)
        self._shrink = Converter(threads)  # where frames are decoded (a read ahead's thread): decimation, luma
        self._counting = threading.Lock()  # frames_converted is counted on both sides
        self._reading: _ReadAhead | None = None
        self._closed = False
        self._stop = threading.Event()  # the current read's: set when another read begins or the reader closes
        shown_w, shown_h = self.info.display_size
        self.scale = min(1.0, MAX_ANALYSED_SIDE / max(shown_w, shown_h))
        self._target = (max(1, round(shown_w * self.scale)), max(1, round(shown_h * self.scale)))

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames handed out: the upright displayed picture times `scale`."""
        w, h = self._target
        return (h, w) if self.info.rotation in (90, 270) else (w, h)

    @property
    def convert_s(self) -> float:
        """Seconds spent so far converting frames (or their regions) to RGB where they were looked at (not the
        decimation of 4K frames as they are decoded: that is part of reading)."""
        return self._convert.seconds

    @property
    def num_frames(self) -> int:
        return self.info.frame_count

    @property
    def fps(self) -> float:
        return self.info.fps

    def time_s(self, index: int) -> float:
        """Presentation time of frame `index` in seconds from the first shown frame."""
        return float(self._index.times_s[int(index)])

    def end_time_s(self, index: int) -> float:
        """When frame `index` stops showing: the next frame's time, or the end of the video."""
        index = int(index)
        if index + 1 < self.num_frames:
            return float(self._index.times_s[index + 1])
        return float(self._index.frame_end_s)

    def get(self, indices) -> np.ndarray:
        """Frames at `indices` (presentation order, 0-based) as uint8 (N, H, W, 3) upright RGB (`frame_size`).

        Raises `VideoError` for an index outside the video or a frame that cannot be decoded, `ValueError` once
        the reader is closed.
        """
        if self._closed:
            raise ValueError("the video reader is closed")
        indices = [int(i) for i in indices]
        if not indices:
            w, h = self.frame_size
            return np.zeros((0, h, w, 3), dtype=np.uint8)
        wanted = sorted(set(indices))
        read = self.windows([[i] for i in wanted], shift=False)
        frames = {w.indices[0]: w.frames[0].rgb() for w in read if w.indices}
        missing = [i for i in wanted if i not in frames]
        if missing:
            raise VideoError(
                self.path, f"{len(missing)} of the {len(wanted)} frames asked for could not be decoded "
                f"(the first at {self.time_s(missing[0]):.2f} s)", code="frames_lost",
            )  # fmt: skip
        return np.stack([frames[i] for i in indices])

    def windows(
        self, requested: Sequence[Sequence[int]], shift: bool = True, stored: Collection[int] = (), ahead: int = 0
    ) -> Iterator[Window]:
        """Each requested window of frame indices, read by the decode plan, in the order of their first frames.

        `shift`: a window with a lost frame moves forward to the nearest run it can be read from (at most
        `MAX_SHIFT_WINDOWS` window lengths, never past the next window's start or the video's end); without it
        the window is handed out with `indices` None. `stored`: indices whose stored luma is also wanted
        (`Window.luma`). `ahead`: read up to this many windows ahead in a thread of the reader's, while the
        caller works on the last one (the same windows, frames and pictures; 0: read each when asked for).
        Raises `VideoError` for an index outside the video (when the first window is asked for), `ValueError`
        once the reader is closed.
        """
        if self._closed:
            raise ValueError("the video reader is closed")
        self._stop_reading()  # one read at a time: the one before stops here, started or not
        self._stop = stop = threading.Event()
        windows = self._windows(requested, shift, set(stored), stop)
        return self._in_turns(windows) if ahead <= 0 else self._read_ahead(windows, ahead, stop)

    @staticmethod
    def _in_turns(windows: Iterator[Window]) -> Iterator[Window]:
        try:
            yield from windows
        except _Stopped:
            raise RuntimeError(_STOPPED) from None

    def _read_ahead(self, windows: Iterator[Window], ahead: int, stop: threading.Event) -> Iterator[Window]:
        if stop.is_set():  # another read began before this one was first asked for a window
            raise RuntimeError(_STOPPED)
        self._reading = reading = _ReadAhead(windows, ahead, stop)
        try:
            yield from reading
        finally:
            reading.close()
            if self._reading is reading:
                self._reading = None

    def _stop_reading(self) -> None:
        """Stop the read before (a read ahead's thread is joined, so it is done with the decoder)."""
        self._stop.set()
        if self._reading is not None:
            self._reading.close()
            self._reading = None

    def _windows(self, requested, shift: bool, stored: set[int], stop: threading.Event) -> Iterator[Window]:
        plan = sorted((list(map(int, w)) for w in requested if len(w)), key=lambda w: w[0])
        bad = [i for w in plan for i in (w[0], w[-1]) if i < 0 or i >= self.num_frames]
        if bad:
            raise VideoError(self.path, f"frame {bad[0]} is outside 0..{self.num_frames - 1}", code="bad_index")
        shifts = [self._max_shift(plan, k) if shift else 0 for k in range(len(plan))]
        starts = [w[0] for w in plan]
        ends = [w[-1] + s for w, s in zip(plan, shifts, strict=True)]
        cache: dict[int, Picture] = {}
        kept: dict[int, np.ndarray] = {}
        state = {"current": 0, "lossy": False, "stop": stop}

        last = max(ends, default=-1)

        def skippable(index: int) -> bool:
            """Frames between windows; never past the last one (a later read may want them, decoded)."""
            return index < last and not needed(index)

        def needed(index: int) -> bool:
            k = state["current"]
            if index < starts[k]:
                return False
            last = bisect.bisect_right(starts, index) - 1  # windows starting at or before `index`
            return any(index <= (ends[j] if state["lossy"] else plan[j][-1]) for j in range(k, last + 1))

        for k, window in enumerate(plan):
            if stop.is_set():
                raise _Stopped
            state["current"] = k
            yield self._read_window(window, shifts[k], cache, kept, stored, needed, skippable, state)
            following = starts[k + 1] if k + 1 < len(plan) else self.num_frames
            for index in [i for i in cache if i < following]:
                del cache[index]
            for index in [i for i in kept if i < following]:
                del kept[index]

    def close(self) -> None:
        self._closed = True
        self._stop_reading()  # a read ahead's thread is done with the decoder before the file closes
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # the decode plan -----------------------------------------------------------------------------------

    def _max_shift(self, plan: list[list[int]], k: int) -> int:
        """How far window `k` may move forward: it must start before the next window and end in the video."""
        window = plan[k]
        following = plan[k + 1][0] if k + 1 < len(plan) else self.num_frames
        return max(0, min(following - window[0] - 1, self.num_frames - 1 - window[-1], MAX_SHIFT_WINDOWS * len(window)))

    def _read_window(self, window, max_shift, cache, kept, stored, needed, skippable, state) -> Window:
        decoder = self._decoder_at(window[0], cache)
        while True:
            shift = self._fit(window, max_shift, cache, decoder.position, decoder.exhausted)
            if shift is not None or decoder.exhausted or decoder.position >= window[-1] + max_shift:
                break
            if state["stop"].is_set():
                raise _Stopped
            try:
                got = decoder.next(skippable)
            except _LandedLate:
                self._seeking = False  # this file's seeks cannot be trusted: read on from the start, in order
                decoder.restart()
                continue
            if got is None:
                continue
            index, frame = got
            self.stats.frames_decoded += 1
            if self._shape != (frame.width, frame.height):
                self._note_size(frame, index)
            if needed(index):
                cache[index] = self._picture(frame, index)
            if index in stored:
                kept[index] = stored_luma(frame, self._shrink)
        lost = [i for i in window if i not in cache and (i <= decoder.position or decoder.exhausted)]
        if lost:
            state["lossy"] = True
            self.stats.lost.update(lost)
        if shift is None:
            return Window(window, None, [], 0, lost)
        self.stats.shifted_windows += int(shift > 0)
        indices = [i + shift for i in window]
        luma = {i: kept[i] for i in indices if i in kept}
        return Window(window, indices, [cache[i] for i in indices], shift, lost, luma)

    @staticmethod
    def _fit(window: list[int], max_shift: int, cache: dict, position: int, exhausted: bool) -> int | None:
        """The smallest shift at which every frame of the window has been read; None while it may still come."""
        for shift in range(max_shift + 1):
            if window[-1] + shift > position and not exhausted:
                return None
            if all(i + shift in cache for i in window):
                return shift
        return None

    def _rewind(self, decoder: _Decoder, target: int) -> None:
        if self._seeking:
            try:
                decoder.seek(target)
                return
            except Exception:
                self._seeking = False
        decoder.restart()

    def _decoder_at(self, target: int, cache: dict) -> _Decoder:
        """The decoder, positioned to read `target` next: decoding on or seeking, whichever costs less."""
        if self._decoder is None:
            self._decoder = _Decoder(self.path, self._index, self.num_frames, self._threads, self.stats)
        decoder = self._decoder
        if decoder.position >= target and target not in cache and target not in self.stats.lost:
            self._rewind(decoder, target)  # an earlier read went past it: back to it
            return decoder
        if decoder.position >= target - 1 or decoder.exhausted or not self._seeking:
            return decoder  # the target comes next, an earlier overlapping window read past it, or no seeking
        key = self._index.keyframe_at_or_before(target)
        gap = target - decoder.position - 1
        if key > decoder.position + 1 and (target - key) + SEEK_COST_FRAMES < SKIPPED_FRAME_COST * gap:
            self._rewind(decoder, target)  # a file that cannot seek (no index) reads on from the start
        return decoder

    def _picture(self, frame, index: int) -> Picture:
        """A decoded frame as the picture analysed: square pixels, upright, the first frame's shape, `scale`d;
        converted to RGB where it is looked at (`media.picture`)."""
        target_w, target_h = self._target
        turns = self.info.rotation // 90
        if (frame.width, frame.height) == (self.info.coded_width, self.info.coded_height):
            return Picture(frame, self._target, turns, self._convert, self._count_conversion, shrink=self._shrink)
        self._count_conversion()
        rgb = self._fitted(frame, index, target_w, target_h)
        return Picture.of_array(np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb)

    def _count_conversion(self) -> None:
        with self._counting:
            self.stats.frames_converted += 1

    def _note_size(self, frame, index: int) -> None:
        """Record where the stored frame size changes (the first frame's size is no change)."""
        if self._shape is not None or (frame.width, frame.height) != (self.info.coded_width, self.info.coded_height):
            self.stats.size_changes.append((self.time_s(index), frame.width, frame.height))
        self._shape = (frame.width, frame.height)

    def _fitted(self, frame, index: int, target_w: int, target_h: int) -> np.ndarray:
        """A frame of another size fitted into the first frame's picture with its own shape kept (bars)."""
        sar = self.info.display_size[0] / self.info.coded_width
        fit = min(target_w / (frame.width * sar), target_h / frame.height)
        w, h = max(1, round(frame.width * sar * fit)), max(1, round(frame.height * fit))
        canvas = np.zeros((target_h, target_w, 3), dtype=np.uint8)
        x0, y0 = (target_w - w) // 2, (target_h - h) // 2
        canvas[y0 : y0 + h, x0 : x0 + w] = self._shrink(frame, w, h)
        return canvas

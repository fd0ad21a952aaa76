"""The one reader of video: upright RGB frames by index, with true presentation times.

Every path that looks at pixels (the data pipeline, serving, batch scoring, drift features) opens videos here,
so every fact reported about a video comes from the stream whose frames were analysed (`media.probe`).

Two decoders, one answer:

- decord is the fast path (`get_batch` seeks to and decodes only the requested frames). It is used when it
  opens the file and agrees with the probe: the same frame count and the same upright frame size (decord
  applies the display rotation itself and picks the same "best" stream as FFmpeg).
- PyAV decodes everything else (AV1, VP8/VP9 WebM, live WebM without an index, AVI with odd headers, GIF): it
  seeks to the key frame before the first wanted frame, decodes forward and keeps the wanted frames,
  matched by presentation timestamp, then applies the display rotation with `np.rot90`.

Both convert YUV to RGB with FFmpeg's swscale; the difference between them on H.264 is bounded by a test.
Frame times never come from the decoder: they are the probe's measured presentation times, seconds from the
first frame.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from deepfake_detection.media.probe import StreamIndex, VideoError, VideoInfo, VideoLimits, probe_stream

BACKENDS = ("auto", "decord", "pyav")


class VideoReader:
    """Random access to the upright RGB frames of the analysed stream of one file.

    `info` holds the facts (`info.decoder` names the decoder in use); `num_frames` equals
    `info.frame_count`. Use as a context manager, or call `close()`, to release the file.

    `threads`: decoder threads (0: as many as FFmpeg sees fit; 1 where processes already share the cores).
    Raises `VideoError` (and its subclasses, see `media.probe`) when the file cannot be used.
    """

    def __init__(
        self, path: str | Path, limits: VideoLimits | None = None, backend: str = "auto", threads: int = 0
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown video backend {backend!r}; use one of {BACKENDS}")
        self.path = str(path)
        info, self._index = probe_stream(path, limits)
        self._threads = threads
        self._decord = None
        self._container = None
        if backend in ("auto", "decord"):
            self._decord = _open_decord(self.path, info, self._index.times_s, threads)
            if self._decord is None and backend == "decord":
                raise VideoError(f"{self.path}: decord cannot read this stream as the probe measured it")
        self.info: VideoInfo = replace(info, decoder="decord" if self._decord is not None else "pyav")

    @property
    def num_frames(self) -> int:
        return self.info.frame_count

    @property
    def fps(self) -> float:
        return self.info.fps

    def get(self, indices) -> np.ndarray:
        """Frames at `indices` (presentation order, 0-based) as uint8 (N, H, W, 3) upright RGB.

        Raises `VideoError` for an index outside the video or a frame that cannot be decoded.
        """
        indices = [int(i) for i in indices]
        if not indices:
            return np.zeros((0, self.info.height, self.info.width, 3), dtype=np.uint8)
        bad = [i for i in indices if i < 0 or i >= self.num_frames]
        if bad:
            raise VideoError(f"{self.path}: frame indices {bad[:3]} outside 0..{self.num_frames - 1}")
        try:
            if self._decord is not None:
                return self._decord.get_batch(indices).asnumpy()
            return self._get_pyav(indices)
        except VideoError:
            raise
        except Exception as exc:
            raise VideoError(f"{self.path}: decoding frames {indices[0]}..{indices[-1]} failed ({exc})") from exc

    def time_s(self, index: int) -> float:
        """Presentation time of frame `index` in seconds from the first frame."""
        return float(self._index.times_s[int(index)])

    def end_time_s(self, index: int) -> float:
        """When frame `index` stops showing: the next frame's time, or the end of the video."""
        index = int(index)
        if index + 1 < self.num_frames:
            return float(self._index.times_s[index + 1])
        return float(self._index.frame_end_s)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._decord = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # PyAV path ----------------------------------------------------------------------------------------

    def _get_pyav(self, indices: list[int]) -> np.ndarray:
        wanted = sorted(set(indices))
        if self._index.has_pts:
            frames = self._decode_by_pts(wanted, seek=True)
            if frames is None:  # no usable index (live WebM) or the seek landed late: from the start
                frames = self._decode_by_pts(wanted, seek=False)
        else:
            frames = self._decode_counting(wanted)
        missing = [i for i in wanted if i not in frames]
        if missing:
            raise VideoError(f"{self.path}: frames {missing[:3]} could not be decoded")
        return np.stack([frames[i] for i in indices])

    def _decode_by_pts(self, wanted: list[int], seek: bool) -> dict[int, np.ndarray] | None:
        """Wanted frames matched by timestamp; None when a seek did not land at or before the first one."""
        index = self._index
        by_pts = {int(index.pts[i]): i for i in wanted}
        first_pts, last_pts = int(index.pts[wanted[0]]), int(index.pts[wanted[-1]])
        container, stream = self._open_pyav(reopen=not seek)
        if seek:
            try:
                container.seek(_keyframe_at_or_before(index, first_pts), stream=stream, backward=True)
            except Exception:
                return None
        frames: dict[int, np.ndarray] = {}
        decoded_any = False
        for frame in container.decode(stream):
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                continue
            if not decoded_any and pts > first_pts and seek:
                return None
            decoded_any = True
            if pts in by_pts:
                frames[by_pts[pts]] = self._upright(frame.to_ndarray(format="rgb24"))
            if pts >= last_pts:
                break
        if seek and len(frames) < len(wanted):
            return None
        return frames

    def _decode_counting(self, wanted: list[int]) -> dict[int, np.ndarray]:
        """Streams without timestamps: decode from the start and count frames."""
        container, stream = self._open_pyav(reopen=True)
        targets, frames = set(wanted), {}
        for position, frame in enumerate(container.decode(stream)):
            if position in targets:
                frames[position] = self._upright(frame.to_ndarray(format="rgb24"))
            if position >= wanted[-1]:
                break
        return frames

    def _open_pyav(self, reopen: bool):
        import av

        if self._container is None or reopen:
            if self._container is not None:
                self._container.close()
            self._container = av.open(self.path, metadata_errors="ignore")
            stream = self._container.streams[self._index.stream_index]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
        return self._container, self._container.streams[self._index.stream_index]

    def _upright(self, rgb: np.ndarray) -> np.ndarray:
        turns = self.info.rotation // 90
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _keyframe_at_or_before(index: StreamIndex, pts: int) -> int:
    keys = index.keyframe_pts
    if len(keys) == 0:
        return int(index.pts[0])
    pos = int(np.searchsorted(keys, pts, side="right")) - 1
    return int(keys[max(pos, 0)])


def _open_decord(path: str, info: VideoInfo, times_s: np.ndarray, threads: int):
    """decord's reader when it reads the same stream as the probe measured, else None.

    Same stream means the same frame count, the same upright frame size and the same frame times (first,
    middle and last frame within half a frame of the measured ones).
    """
    import decord

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads)
        if len(reader) != info.frame_count:
            return None
        if tuple(reader[0].shape[:2]) != (info.height, info.width):
            return None
        if not _same_times(reader, times_s, info.fps):
            return None  # decord seeks by its own timestamps: wrong ones mean wrong frames
        reader.seek(0)
        return reader
    except Exception:
        return None


def _same_times(reader, times_s: np.ndarray, fps: float) -> bool:
    tolerance = 0.5 / fps if fps > 0 else 0.02
    origin = float(reader.get_frame_timestamp(0)[0])
    for i in {0, len(times_s) // 2, len(times_s) - 1}:
        if abs(float(reader.get_frame_timestamp(i)[0]) - origin - float(times_s[i])) > tolerance:
            return False
    return True

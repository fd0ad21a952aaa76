"""Kinds of file from public bug reports of video readers, made here with PyAV from the carphone face.

Each stands for a kind the service must read as a viewer sees it (issue 17): recordings joined into one MPEG-TS
whose clock restarts, a WebM whose frame size changes mid-stream, an MPEG-2 program stream, an odd-size VP9 in
MP4, WMV in ASF, raw DV, an hour-long video, and scenes with four people or a crowd. `reference_frames` is the
reference they are checked against: PyAV decoding every frame in order.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from deepfake_detection.media.formats import OPEN_OPTIONS


def encode(path: Path, frames: np.ndarray, codec: str = "libx264", fmt: str | None = None, fps: int = 25,
           pix_fmt: str = "yuv420p", options: dict | None = None) -> Path:  # fmt: skip
    """RGB frames (N, H, W, 3) encoded with `codec` into container `fmt` (by the file's suffix when None)."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def reference_frames(path: Path) -> list[np.ndarray]:
    """Every frame PyAV decodes, in its output order, as stored RGB (the reference a reader is held to); a
    damaged packet costs its own frame."""
    frames = []
    with av.open(str(path), options=dict(OPEN_OPTIONS)) as container:
        for packet in container.demux(video=0):
            try:
                frames += [f.to_ndarray(format="rgb24") for f in packet.decode()]
            except av.error.InvalidDataError:  # a damaged packet: its frame is lost, decoding goes on
                continue
    return frames


def resized(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])


def joined_mpegts(folder: Path, frames: np.ndarray) -> Path:
    """Two recordings, each an MPEG-TS starting at the same clock, joined byte for byte (`cat a.ts b.ts`)."""
    half = len(frames) // 2
    a = encode(folder / "part_a.ts", frames[:half], fmt="mpegts")
    b = encode(folder / "part_b.ts", frames[half:][::-1].copy(), fmt="mpegts")  # another take of the scene
    (path := folder / "joined.ts").write_bytes(a.read_bytes() + b.read_bytes())
    return path


def size_change_webm(folder: Path, frames: np.ndarray) -> Path:
    """A VP8 WebM whose frames turn from landscape to portrait half-way (a browser recording when the phone
    turns): the second part's packets muxed into the first part's stream."""
    half = len(frames) // 2
    h, w = frames.shape[1:3]
    landscape = encode(folder / "land.webm", frames[:half], codec="libvpx")
    portrait = np.zeros((half, w, h, 3), dtype=np.uint8)  # the same face, upright in a portrait frame
    portrait[:, (w - h) // 2 : (w - h) // 2 + h, :] = resized(frames[half:], h, h)
    portrait_file = encode(folder / "port.webm", portrait, codec="libvpx")
    path = folder / "turned.webm"
    with av.open(str(landscape)) as first, av.open(str(portrait_file)) as second, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(first.streams.video[0])
        offset = 0
        for source in (first, second):
            last = 0
            for packet in source.demux(video=0):
                if packet.size == 0:
                    continue
                last = max(last, packet.pts + (packet.duration or 0))
                packet.pts += offset
                packet.dts += offset
                packet.stream = stream
                out.mux(packet)
            offset += last
    return path


def mpeg_ps(folder: Path, frames: np.ndarray) -> Path:
    """MPEG-2 video in an MPEG program stream (DVD .vob / .mpg), with B-frames."""
    return encode(folder / "program.mpg", frames, codec="mpeg2video", fmt="vob", options={"bf": "2", "g": "12"})


def odd_vp9_mp4(folder: Path, frames: np.ndarray) -> Path:
    """VP9 in MP4 with odd sides (177x145): what some phone editors and converters write."""
    odd = resized(frames, 177, 145)
    return encode(folder / "odd_vp9.mp4", odd, codec="libvpx-vp9", pix_fmt="yuv420p", options={"deadline": "realtime"})


def raw_dv(folder: Path, frames: np.ndarray) -> Path:
    """PAL DV (720x576, 4:2:0, non-square pixels) as a raw DIF stream: a camcorder's or a tape capture's .dv."""
    return encode(folder / "tape.dv", resized(frames, 720, 576), codec="dvvideo", fmt="dv")


def wmv_asf(folder: Path, frames: np.ndarray) -> Path:
    """WMV (Windows Media Video 8) in ASF, as Windows and older cameras wrote it."""
    return encode(folder / "clip.wmv", frames, codec="wmv2", fmt="asf")


def hour_long(folder: Path, frames: np.ndarray, fps: int = 1) -> Path:
    """An hour of video at 1 frame a second (cheap to make, still 3600 s long), a key frame every 10 s."""
    loop = np.concatenate([frames, frames[::-1]])
    hour = np.stack([loop[i % len(loop)] for i in range(3600 * fps)])
    return encode(folder / "hour.mp4", hour, fps=fps, options={"g": "10", "preset": "ultrafast"})


def grid(frames: np.ndarray, tiles: list[tuple[int, int, float]], size: tuple[int, int]) -> np.ndarray:
    """Copies of the talking face on a canvas (width, height): one per (x, y, scale) tile, alternately
    mirrored so neighbours differ."""
    width, height = size
    canvas = np.full((len(frames), height, width, 3), 40, dtype=np.uint8)
    h, w = frames.shape[1:3]
    for k, (x, y, scale) in enumerate(tiles):
        tile = resized(frames, round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)
        tile = tile[:, :, ::-1] if k % 2 else tile
        canvas[:, y : y + tile.shape[1], x : x + tile.shape[2]] = tile
    return canvas


def four_people(folder: Path, frames: np.ndarray) -> Path:
    """Four talking faces in a 2x2 grid (a video call)."""
    h, w = frames.shape[1:3]
    tiles = [(0, 0, 1.0), (w, 0, 1.0), (0, h, 1.0), (w, h, 1.0)]
    return encode(folder / "four.mp4", grid(frames, tiles, (2 * w, 2 * h)))


def crowd(folder: Path, frames: np.ndarray) -> Path:
    """Sixteen faces in a 4x4 grid of tiles 1.5x the frames (carphone's: 288x216): the top half large enough for
    a clip, the bottom half at 60 % too small (carphone's face at its own size is on the 64 px edge)."""
    h, w = (round(side * 1.5) // 2 * 2 for side in frames.shape[1:3])
    tiles = [(c * w, r * h, 1.0 if r < 2 else 0.6) for r in range(4) for c in range(4)]
    return encode(folder / "crowd.mp4", grid(resized(frames, w, h), tiles, (4 * w, 4 * h)))

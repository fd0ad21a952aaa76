"""How a clip (uint8 T x H x W x 3) is stored: raw, zstd-compressed, JPEG frames, or an H.264 4:4:4 clip.

A real FaceForensics++ run cuts ~40,000 clips; raw they take 2.4 MB each (~96 GB). The format is a property of
the clip store, recorded in every manifest and in the dataset artifact; a clip's file extension says how to read
it, so stores that mix formats (after a change of default) stay readable.

| format | file | what | pixel error |
|---|---|---|---|
| `npy` | `.npy` | raw array, memory-mapped when local | none |
| `zstd` | `.npy.zst` | the raw array through zstd (level 3) | none |
| `jpeg` | `.jpg.npz` | one JPEG per frame (quality 95, 4:4:4), stored uncompressed in an npz | lossy |
| `h264` | `.mp4` | one H.264 clip per face (libx264 High 4:4:4, CRF 12, all frames) | lossy |

The numbers that chose the default are in `benchmarks/bench_clip_store.py`'s output (README, "How clips are
made").
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepfake_detection.media.encode import decode_frames, encode_h264

JPEG_QUALITY = 95
H264_CRF = 12
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class ClipFormat:
    name: str
    extension: str
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]
    lossless: bool


def _npy_encode(clip: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(clip), allow_pickle=False)
    return buf.getvalue()


def _npy_decode(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _zstd_encode(clip: np.ndarray) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(_npy_encode(clip))


def _zstd_decode(data: bytes) -> np.ndarray:
    import zstandard

    return _npy_decode(zstandard.ZstdDecompressor().decompress(data))


def _jpeg_encode(clip: np.ndarray) -> bytes:
    import cv2

    frames = []
    for frame in clip:
        ok, encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
             cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
        )  # fmt: skip
        if not ok:
            raise ValueError("JPEG encoding failed")
        frames.append(encoded)
    buf = io.BytesIO()
    np.savez(buf, *frames)
    return buf.getvalue()


def _jpeg_decode(data: bytes) -> np.ndarray:
    import cv2

    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        encoded = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    return np.stack([cv2.cvtColor(cv2.imdecode(e, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for e in encoded])


def _h264_encode(clip: np.ndarray) -> bytes:
    return encode_h264(clip, H264_CRF, "yuv444p", "medium", tune="film")


FORMATS: dict[str, ClipFormat] = {
    "npy": ClipFormat("npy", ".npy", _npy_encode, _npy_decode, lossless=True),
    "zstd": ClipFormat("zstd", ".npy.zst", _zstd_encode, _zstd_decode, lossless=True),
    "jpeg": ClipFormat("jpeg", ".jpg.npz", _jpeg_encode, _jpeg_decode, lossless=False),
    "h264": ClipFormat("h264", ".mp4", _h264_encode, decode_frames, lossless=False),
}


def format_of(clip_path: str) -> ClipFormat:
    """The format a stored clip is in, from its file name."""
    for fmt in sorted(FORMATS.values(), key=lambda f: -len(f.extension)):
        if clip_path.endswith(fmt.extension):
            return fmt
    raise ValueError(f"{clip_path}: not a clip file this store knows ({', '.join(FORMATS)})")

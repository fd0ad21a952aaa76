"""Benchmark (not a test): clip extraction speed on an FF++-layout folder (face finding: benchmarks/face_recall.py).

.venv/bin/python benchmarks/bench_extraction.py ../shared/ffpp_sample --clips-per-video 8
"""

from __future__ import annotations

import argparse
import tempfile
import time

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clip_store import ClipStore, extract_catalog
from deepfake_detection.data.clips import make_detector
from deepfake_detection.datasets.ffpp import build_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--clips-per-video", type=int, default=8)
    args = parser.parse_args()
    params = ClipParams(clips_per_video=args.clips_per_video)
    catalog = build_catalog(args.root)
    detector = make_detector(params.faces)

    with tempfile.TemporaryDirectory() as tmp:
        store = ClipStore(tmp, params)
        t0 = time.monotonic()
        clips, failures = extract_catalog(catalog, store, detector)
        elapsed = time.monotonic() - t0
        t1 = time.monotonic()
        extract_catalog(catalog, store, detector)
        rerun = time.monotonic() - t1
    rate = len(clips) / elapsed
    print(f"extraction: {len(clips)} clips from {len(catalog)} videos in {elapsed:.1f}s = {rate:.2f} clips/s")
    print(f"  {len(failures)} failures; rerun with the store full: {rerun:.2f}s")
    print(f"bytes per stored clip: {clips.clip_bytes.mean():.0f}; median face size {clips.face_size.median():.0f}px")


if __name__ == "__main__":
    main()

"""Benchmark (not a test): the scale-out numbers — Ray vs one process, batch scoring vs the service, clip formats.

    .venv/bin/python benchmarks/bench_scale.py          # after `make demo` (demo data, model and service)

1. clip extraction clips/s, one process vs Ray on this machine's cores, on the demo data and on the FF++ sample
   (when present beside the checkout), each into an empty store;
2. batch scoring of the 24 demo test videos with Ray vs posting them one at a time to the real service;
3. the clip store formats on real clips: bytes per clip, encode and decode ms, mean and max pixel error;
4. the training loader (`ClipTorchDataset`) clips/s per format with 0, 1 and 2 workers, against the demo
   training step's appetite.

Prints tables and writes `.cache/reports/bench/bench_scale.json`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()
os.environ.setdefault("ZENML_CONFIG_PATH", str(REPO / ".cache" / "zenml"))
os.environ.setdefault("BENTOML_HOME", str(REPO / ".cache" / "bentoml"))

from deepfake_detection.config import ClipParams, model_geometry  # noqa: E402
from deepfake_detection.data.clip_formats import FORMATS  # noqa: E402
from deepfake_detection.data.clip_store import ClipStore, extract_catalog, extract_catalog_ray  # noqa: E402
from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog  # noqa: E402
from deepfake_detection.ray_runtime import ray_session  # noqa: E402

OUT = REPO / ".cache" / "reports" / "bench"
RESULTS: dict = {}


def extraction(name: str, catalog: pd.DataFrame, params: ClipParams) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        one, _ = extract_catalog(catalog, ClipStore(Path(tmp) / "one", params))
        seconds_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        many, _ = extract_catalog_ray(catalog, ClipStore(Path(tmp) / "ray", params))
        seconds_ray = time.perf_counter() - t0
    assert len(one) == len(many)
    row = {"videos": len(catalog), "clips": len(one), "one_process_clips_per_s": len(one) / seconds_one,
           "ray_clips_per_s": len(many) / seconds_ray, "ratio": seconds_one / seconds_ray}  # fmt: skip
    RESULTS.setdefault("extraction", {})[name] = row
    print(
        f"extraction {name}: {len(catalog)} videos, {len(one)} clips; one process {row['one_process_clips_per_s']:.2f}"
        f" clips/s, Ray {row['ray_clips_per_s']:.2f} clips/s ({row['ratio']:.2f}x)",
        flush=True,
    )


def batch_vs_service(test_videos: list[str]) -> None:
    import requests

    from deepfake_detection.modeling.detector import Detector
    from deepfake_detection.registry import resolve_model_folder
    from deepfake_detection.scoring.batch import score_videos
    from deepfake_detection.service_settings import ServiceSettings
    from serving.local_server import bentoml_server

    folder, provenance = resolve_model_folder("production")
    settings = ServiceSettings()
    _, info = Detector.read_meta(folder)
    params = settings.clip_params(model_geometry(info) or {})
    with tempfile.TemporaryDirectory() as tmp, bentoml_server({"request_log_dir": f"{tmp}/log"}, Path(tmp)) as server:
        t0 = time.perf_counter()
        for path in test_videos:
            with open(path, "rb") as f:
                requests.post(f"{server.url}/detect", files={"video": ("v.mp4", f, "video/mp4")}, timeout=600)
        seconds_service = time.perf_counter() - t0
    with ray_session():
        score_videos(test_videos[:2], folder, params, settings.limits, provenance)  # warm: Ray workers started
        t0 = time.perf_counter()
        table = score_videos(test_videos, folder, params, settings.limits, provenance)
        seconds_batch = time.perf_counter() - t0
    row = {"videos": len(test_videos), "service_one_at_a_time_s": seconds_service, "batch_ray_s": seconds_batch,
           "service_videos_per_min": 60 * len(test_videos) / seconds_service,
           "batch_videos_per_min": 60 * len(test_videos) / seconds_batch, "ratio": seconds_service / seconds_batch,
           "errors": int(table["error"].notna().sum())}  # fmt: skip
    RESULTS["batch_scoring"] = row
    print(
        f"batch scoring of {len(test_videos)} demo test videos: service one at a time {seconds_service:.1f} s "
        f"({row['service_videos_per_min']:.1f}/min), Ray batch {seconds_batch:.1f} s "
        f"({row['batch_videos_per_min']:.1f}/min): {row['ratio']:.2f}x",
        flush=True,
    )


def formats(clips: list[np.ndarray], label: str) -> None:
    raw = clips[0].nbytes
    rows = {}
    for name, fmt in FORMATS.items():
        sizes, enc, dec, mean_err, max_err = [], [], [], [], []
        for clip in clips:
            t0 = time.perf_counter()
            data = fmt.encode(clip)
            t1 = time.perf_counter()
            back = fmt.decode(data)
            t2 = time.perf_counter()
            err = np.abs(back.astype(int) - clip.astype(int))
            sizes.append(len(data))
            enc.append(t1 - t0)
            dec.append(t2 - t1)
            mean_err.append(err.mean())
            max_err.append(int(err.max()))
        rows[name] = {"bytes_per_clip": float(np.mean(sizes)), "of_raw": float(np.mean(sizes)) / raw,
                      "encode_ms": 1000 * float(np.median(enc)), "decode_ms": 1000 * float(np.median(dec)),
                      "mean_abs_error": float(np.mean(mean_err)), "max_abs_error": max(max_err)}  # fmt: skip
    RESULTS.setdefault("formats", {})[label] = rows
    print(f"\nclip formats on {len(clips)} {label} clips (16x224x224x3, {raw} bytes raw)")
    print("| format | bytes/clip | of raw | encode ms | decode ms | mean abs error | max abs error |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['bytes_per_clip']:.0f} | {r['of_raw']:.1%} | {r['encode_ms']:.1f} | {r['decode_ms']:.1f} "
            f"| {r['mean_abs_error']:.2f} | {r['max_abs_error']} |"
        )


def loader(clips: list[np.ndarray]) -> None:
    import torch

    from deepfake_detection.data.dataset import ClipDataset
    from deepfake_detection.modeling.augment import AugmentParams
    from deepfake_detection.modeling.training import ClipTorchDataset

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt in FORMATS.items():
            names = []
            for i, clip in enumerate(clips):
                (Path(tmp) / f"{i}{fmt.extension}").write_bytes(fmt.encode(clip))
                names.append(f"{i}{fmt.extension}")
            table = pd.DataFrame({"clip_id": names, "clip_path": names, "is_fake": [i % 2 for i in range(len(names))],
                                  "label": "real", "split": "train"})  # fmt: skip
            ds = ClipTorchDataset(ClipDataset(table, tmp, ClipParams(), source="bench"), table, AugmentParams())
            for workers in (0, 1, 2):
                batches = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=workers, shuffle=True)
                t0 = time.perf_counter()
                seen = sum(len(b[0]) for b in batches)
                rows.setdefault(name, {})[workers] = seen / (time.perf_counter() - t0)
    RESULTS["loader_clips_per_s"] = rows
    print("\ntraining loader (ClipTorchDataset with the demo's augmentation), clips/s")
    print("| format | 0 workers | 1 worker | 2 workers |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r[0]:.1f} | {r[1]:.1f} | {r[2]:.1f} |")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    demo = REPO / ".cache" / "demo_ffpp"
    if not demo.exists():
        raise SystemExit("run `make demo` first (demo data, model and service)")
    catalog = build_catalog(demo, splits=OfficialSplits.load(demo / "splits"))
    params = ClipParams(clips_per_video=4)
    with ray_session():
        extraction("demo data (320x240)", catalog.iloc[:48], params)
        ffpp = REPO.parent / "shared" / "ffpp_sample"
        if any(ffpp.glob("**/*.mp4")):
            extraction("FF++ sample (640x480-1080p)", build_catalog(ffpp), ClipParams(clips_per_video=8))
    batch_vs_service(catalog[(catalog.split == "test") & catalog.error.isna()].path.tolist())
    store = ClipStore(REPO / ".cache" / "clips", ClipParams(clips_per_video=4), "npy")
    with tempfile.TemporaryDirectory() as tmp:
        table, _ = extract_catalog(catalog.iloc[:12], ClipStore(tmp, store.params, "npy"))
        demo_clips = [np.asarray(ClipStore(tmp, store.params, "npy").load_clip(p)) for p in table.clip_path[:24]]
        if any((REPO.parent / "shared" / "ffpp_sample").glob("**/*.mp4")):
            ffpp_table, _ = extract_catalog(build_catalog(REPO.parent / "shared" / "ffpp_sample"),
                                            ClipStore(tmp, ClipParams(clips_per_video=4), "npy"))  # fmt: skip
            ffpp_clips = [np.asarray(ClipStore(tmp, ClipParams(clips_per_video=4), "npy").load_clip(p))
                          for p in ffpp_table.clip_path]  # fmt: skip
            formats(ffpp_clips, "FF++ sample")
    formats(demo_clips, "demo")
    loader(demo_clips)
    (OUT / "bench_scale.json").write_text(json.dumps(RESULTS, indent=1))
    print(f"\nwritten: {OUT / 'bench_scale.json'}")


if __name__ == "__main__":
    main()

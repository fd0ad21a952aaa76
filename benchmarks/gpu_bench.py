"""GPU benchmark (only on a lent GPU; never needed by tests): VideoMAE-B training and inference throughput.

    python benchmarks/gpu_bench.py                     # on the GPU machine, < 10 minutes
    python benchmarks/gpu_bench.py --device cpu --tiny # a smoke run of the same code here

Measures, in bf16 autocast with SDPA attention:
- training clips/s (Adam, batch 8 and 16, backbone fully trainable, optionally `torch.compile`) and model FLOP
  utilisation: training FLOPs (3x the forward's, counted by torch's FlopCounterMode) per second / the peak;
- inference clips/s at batch 32;
- whether the clip loader keeps up: `ClipTorchDataset` (the training code's) over raw `.npy` clips on local
  disk with augmentation, clips/s with 4, 8 and 16 workers, against the training step's appetite.

Prints a table and writes JSON to $OUT (or .cache/reports/bench/) for `benchmarks/README.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

from deepfake_detection.modeling.model import ModelParams, build_model  # noqa: E402

VIDEOMAE_B = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}  # dense bf16 tensor-core peaks (vendor sheets)


def timed(fn, device: str, steps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def forward_flops(model, x) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(pixel_values=x)
    return counter.get_total_flops()


def loader_rate(size: int, workers: int, n: int = 256, batch: int = 16) -> float:
    """Clips/s the training loader delivers from raw .npy clips with augmentation."""
    import pandas as pd

    from deepfake_detection.config import ClipParams
    from deepfake_detection.data.dataset import ClipDataset
    from deepfake_detection.modeling.augment import AugmentParams
    from deepfake_detection.modeling.training import ClipTorchDataset

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for i in range(n):
            np.save(Path(tmp) / f"{i}.npy", rng.integers(0, 255, (16, size, size, 3), dtype=np.uint8))
        table = pd.DataFrame({"clip_id": [str(i) for i in range(n)], "clip_path": [f"{i}.npy" for i in range(n)],
                              "is_fake": [i % 2 for i in range(n)], "label": "real", "split": "train"})  # fmt: skip
        dataset = ClipDataset(table, tmp, ClipParams(size=size), source="synthetic")
        ds = ClipTorchDataset(dataset, table, AugmentParams())
        loader = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers, shuffle=True)
        t0 = time.perf_counter()
        seen = sum(len(b[0]) for b in loader)
        return seen / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="a small model and few steps (smoke run)")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile for training")
    args = parser.parse_args()
    device, size = args.device, 64 if args.tiny else 224
    steps = 2 if args.tiny else 10
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    rows: list[dict] = []
    torch.manual_seed(0)
    model, _ = build_model(ModelParams(scratch=TINY if args.tiny else VIDEOMAE_B, dropout=0.1), 16, size)
    model = model.to(device)
    flops_per_clip = forward_flops(model, torch.randn(1, 16, 3, size, size, device=device))

    def report(what: str, clips_per_s: float, train: bool) -> None:
        tflops = clips_per_s * flops_per_clip * (3 if train else 1) / 1e12
        mfu = f"{tflops / peak:.0%}" if peak else "n/a"
        rows.append({"what": what, "clips_per_s": clips_per_s, "tflops": tflops, "mfu": mfu})
        print(f"{what:48s} {clips_per_s:9.1f} clips/s {tflops:8.1f} TFLOP/s  MFU {mfu}", flush=True)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    variants = [("eager", model)]
    if args.compile:
        variants.append(("torch.compile", torch.compile(model)))
    for label, net in variants:
        for batch in (8, 16):
            x = torch.randn(batch, 16, 3, size, size, device=device)
            y = torch.randint(0, 2, (batch,), device=device)

            def step(net=net, x=x, y=y):
                with torch.autocast(device, dtype=torch.bfloat16):
                    loss = torch.nn.functional.cross_entropy(net(pixel_values=x).logits, y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

            report(f"train bf16 {label}, batch {batch}", batch / timed(step, device, steps), train=True)
    model.eval()
    x = torch.randn(32, 16, 3, size, size, device=device)

    def infer():
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16):
            model(pixel_values=x)

    report("inference bf16, batch 32", 32 / timed(infer, device, steps), train=False)
    appetite = max(r["clips_per_s"] for r in rows if r["what"].startswith("train"))
    for workers in (0, 2) if args.tiny else (4, 8, 16):
        rate = loader_rate(size, workers, n=32 if args.tiny else 512)
        rows.append({"what": f"loader, {workers} workers", "clips_per_s": rate, "keeps_up": rate >= appetite})
        verdict = "keeps up with" if rate >= appetite else "slower than"
        label = f"loader (raw .npy, augmented), {workers} workers"
        print(f"{label:48s} {rate:9.1f} clips/s {verdict} training ({appetite:.1f})", flush=True)
    out = Path(os.environ.get("OUT") or REPO / ".cache" / "reports" / "bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_bench.json").write_text(json.dumps({"device": name, "gflop_per_clip": flops_per_clip / 1e9,
                                                     "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

"""What `?explain=true` costs: seconds per clip for scoring alone and for the attention-rollout heatmap, for the
demo-sized model and a VideoMAE-B-sized one (random weights: cost does not depend on training), torch fp32 on
this machine's CPU. Prints a table; no assertion (speed goals live here, not in tests).

    .venv/bin/python benchmarks/bench_explain.py [--clips 4]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench import median_time  # the benchmarks' one timer: median of repeats after a warm-up

from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.heatmap import heatmap_png
from deepfake_detection.modeling.model import ModelParams, build_model

SIZES = {
    "demo (2 layers, 64 wide, patch 32)": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                           "intermediate_size": 128, "patch_size": 32},
    "VideoMAE-B (12 layers, 768 wide)": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                         "intermediate_size": 3072},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    clips = np.random.default_rng(0).integers(0, 255, (args.clips, 16, 224, 224, 3), dtype=np.uint8)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clips} clips of 16x224x224")
    print(f"{'model':40} {'score s/clip':>13} {'explain s/clip':>15} {'explain/score':>14} {'png ms':>7}")
    for name, scratch in SIZES.items():
        model, processor = build_model(ModelParams(scratch=scratch, dropout=0.0), 16, 224)
        detector = Detector(model.eval(), processor)
        score = median_time(lambda d=detector: d.score_reference(clips, batch_size=4), repeats=2) / args.clips
        explain = median_time(lambda d=detector: d.explain(clips), repeats=2) / args.clips
        relevance = detector.explain(clips[:1])[0].mean(axis=0)
        png = median_time(lambda r=relevance: heatmap_png(clips[0, 8], r), repeats=5) * 1000
        print(f"{name:40} {score:13.3f} {explain:15.3f} {explain / score:14.2f} {png:7.1f}")


if __name__ == "__main__":
    main()

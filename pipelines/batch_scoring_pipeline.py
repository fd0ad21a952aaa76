"""The batch scoring pipeline: a folder, a list file or a catalog of videos -> one row per video (Parquet).

make score VIDEOS=folder
python -m pipelines.batch_scoring_pipeline --videos folder [--model production|TAG|DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zenml import pipeline

from deepfake_detection.scoring.batch import BatchScoringConfig
from steps.inference.score import collect_videos, score_batch


@pipeline(name="deepfake_batch_scoring", enable_cache=False)
def batch_scoring_pipeline(config: BatchScoringConfig):
    videos = collect_videos(config)
    score_batch(config, videos)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="score a folder or a list file of videos")
    parser.add_argument("--videos", required=True, help="a folder of videos or a text file with one path per line")
    parser.add_argument("--model", default="production", help="production, a BentoML tag, or a model folder")
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args()
    if not Path(args.videos).exists():  # a clear line now, not a failed pipeline run
        parser.error(f"{args.videos}: no such folder or list file")
    batch_scoring_pipeline(BatchScoringConfig(videos=args.videos, model=args.model, ray_address=args.ray_address))

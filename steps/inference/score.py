"""Batch scoring steps: which videos, then one row per video through Ray (`scoring.batch`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.config import model_geometry
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.stored import is_demo_model
from deepfake_detection.progress import Progress
from deepfake_detection.registry import resolve_model_folder
from deepfake_detection.scoring.batch import BatchScoringConfig, list_videos, score_videos, summarize

logger = get_logger(__name__)


@step
def collect_videos(config: BatchScoringConfig) -> Annotated[pd.DataFrame, "videos_to_score"]:
    """The videos to score: a folder, a list file, or a catalog artifact's `path` column."""
    if config.catalog_artifact:
        paths = Client().get_artifact_version(config.catalog_artifact).load()["path"].astype(str).tolist()
    elif config.videos:
        paths = list_videos(config.videos)
    else:
        raise ValueError("set `videos` (a folder or a list file) or `catalog_artifact`")
    logger.info("%d videos to score", len(paths))
    return pd.DataFrame({"path": paths})


@step
def score_batch(
    config: BatchScoringConfig, videos_to_score: pd.DataFrame
) -> tuple[Annotated[pd.DataFrame, "batch_scores"], Annotated[HTMLString, "batch_summary"]]:
    """Every video through extract -> score -> decide on Ray; bad files become rows with their error."""
    folder, provenance = resolve_model_folder(config.model)
    _, info = Detector.read_meta(folder)
    geometry = config.model_geometry or model_geometry(info) or {}
    params = config.clip_params(geometry)
    logger.info("scoring with %s (%s), backend %s", provenance.get("model"), provenance.get("source"),
                Detector.backend_of(folder, info))  # fmt: skip
    if is_demo_model(info):
        logger.warning("the model was trained on synthetic demo data: it is not a deepfake detector")
    report = Progress("score", len(videos_to_score), logger)
    table = score_videos(
        videos_to_score["path"].tolist(), folder, params, config.limits, provenance, config.ray_address,
        config.scorer_cpus, progress=lambda done, total, path: report(done, total, Path(path).name),
    )  # fmt: skip
    summary = summarize(table)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = get_step_context().pipeline_run.name
    table.to_parquet(out / f"{run}.parquet", index=False)
    (out / f"{run}.json").write_text(json.dumps(summary, indent=1))
    counts = ", ".join(f"{k} {v}" for k, v in {**summary["verdicts"], **summary["errors"]}.items())
    seconds = ", ".join(f"{k} {v}" for k, v in summary["mean_seconds"].items())
    logger.info("%d videos: %s; mean seconds per video: %s", summary["videos"], counts, seconds)
    logger.info("table: %s (summary: %s)", out / f"{run}.parquet", out / f"{run}.json")
    log_metadata({"summary": summary, "model": provenance})
    counts = {**summary["verdicts"], **summary["errors"]}
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in counts.items())
    html = f"<h3>{summary['videos']} videos scored with {provenance.get('model')}</h3><table>{rows}</table>"
    return table, HTMLString(html)

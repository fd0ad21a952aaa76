"""ETL steps: make the source available and catalog it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger

from deepfake_detection.config import DataConfig
from deepfake_detection.datasets.demo import build_demo_dataset
from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog
from deepfake_detection.progress import Progress

logger = get_logger(__name__)


@step
def prepare_source(config: DataConfig) -> Annotated[str, "ffpp_root"]:
    """The FF++ root to read; builds the synthetic demo set there first when the config asks for it."""
    root = Path(config.ffpp_root).resolve()
    if config.demo is not None:
        logger.info("building the synthetic demo set (not FaceForensics++) at %s", root)
        build_demo_dataset(root, config.demo, progress=Progress("demo videos", 0, logger))
    if not root.is_dir():
        raise FileNotFoundError(f"FaceForensics++ root {root} does not exist: set ffpp_root in the run config")
    return str(root)


@step
def ingest_videos(config: DataConfig, ffpp_root: str) -> Annotated[pd.DataFrame, "video_catalog"]:
    """One row per video with label, method, compression, ids, split and probed metadata."""
    splits_dir = config.splits_dir
    if config.demo is not None and splits_dir is None:
        splits_dir = str(Path(ffpp_root) / "splits")
    catalog = build_catalog(
        ffpp_root,
        methods=config.methods,
        compressions=config.compressions,
        splits=OfficialSplits.load(splits_dir),
        limits=config.limits,
        progress=Progress("probe", 0, logger),
    )
    errors = int(catalog["error"].notna().sum())
    logger.info("catalogued %d videos (%d unreadable)", len(catalog), errors)
    log_metadata(
        {
            "videos": len(catalog),
            "unreadable": errors,
            "per_method": catalog.groupby("method").size().to_dict(),
            "per_compression": catalog.groupby("compression").size().to_dict(),
            "per_split": catalog.groupby("split").size().to_dict(),
        }
    )
    return catalog

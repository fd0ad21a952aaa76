"""ETL steps: cut face clips into the clip store and assemble the dataset artifact."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger

from deepfake_detection.config import DataConfig
from deepfake_detection.data.clip_store import ClipStore, extract_catalog_with
from deepfake_detection.data.contracts import ContractReport
from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.progress import Progress
from steps.materializers import ClipDatasetMaterializer

logger = get_logger(__name__)


@step
def extract_clips(
    config: DataConfig, video_catalog: pd.DataFrame
) -> tuple[Annotated[pd.DataFrame, "clip_table"], Annotated[pd.DataFrame, "clip_failures"]]:
    """Faces tracked and cropped into 16-frame clips, one Ray task per video (or in this process with
    `engine: local`); resumable, and a no-op for videos already done."""
    store = ClipStore(config.clip_store, config.clips, config.clip_format)
    cached = 0

    def progress(done: int, total: int, video_id: str, was_cached: bool) -> None:
        nonlocal cached
        cached += was_cached
        report(done, total, video_id)

    report = Progress("extract clips", len(video_catalog), logger)
    clips, failures = extract_catalog_with(config.engine, video_catalog, store, progress, config.ray_address)
    logger.info("%d clips, %d failures, %d videos reused from %s", len(clips), len(failures), cached, store.root)
    for reason, n in failures["code"].value_counts().items():
        logger.info("  %d x %s", n, reason)
    log_metadata(
        {
            "clips": len(clips),
            "failures": len(failures),
            "videos_reused": cached,
            "bytes_per_clip": float(clips["clip_bytes"].mean()) if len(clips) else 0.0,
            "store": str(store.root),
        }
    )
    return clips, failures


@step(output_materializers=ClipDatasetMaterializer)
def build_dataset(
    config: DataConfig,
    clip_table: pd.DataFrame,
    clip_failures: pd.DataFrame,
    video_report: ContractReport,
    clip_report: ContractReport,
) -> Annotated[ClipDataset, "clip_dataset"]:
    """The dataset artifact training consumes: clip table, store location, content hash, contract outcome."""
    store = ClipStore(config.clip_store, config.clips, config.clip_format)
    dataset = ClipDataset(
        table=clip_table,
        store_root=store.root,
        clip_format=config.clip_format,
        params=config.clips,
        failures=clip_failures,
        source="synthetic demo data (NOT FaceForensics++)" if config.demo is not None else "FaceForensics++",
        synthetic=config.demo is not None,
        contracts_passed=video_report.success and clip_report.success,
    )
    log_metadata(dataset.summary())
    logger.info("dataset %s: %s", dataset.content_hash, dataset.summary()["per_split_label"])
    return dataset

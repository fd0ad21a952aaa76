"""Cross-dataset evaluation steps: the test sets' catalogs, their clips and scores, then the table published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.config import model_geometry
from deepfake_detection.data.clip_store import ClipStore, extract_catalog_with
from deepfake_detection.datasets.sources import load_catalog
from deepfake_detection.evaluation.cross_dataset import CrossEvalConfig, add_to_card, metrics_rows, render, video_table
from deepfake_detection.modeling.detector import Detector, score_table
from deepfake_detection.progress import Progress
from deepfake_detection.registry import resolve_model_folder

logger = get_logger(__name__)


@step
def build_test_catalogs(config: CrossEvalConfig) -> Annotated[pd.DataFrame, "test_catalog"]:
    """Every configured test set that is present, its test split only; absent ones are skipped, and said so."""
    tables = []
    for test_set in config.test_sets:
        table = load_catalog(test_set.adapter, test_set.root, config.limits, Progress(f"probe {test_set.name}", 0,
                             logger), test_set.splits_dir)  # fmt: skip
        if table is None:
            logger.warning("test set %s: no %s data at %s, skipped", test_set.name, test_set.adapter, test_set.root)
            continue
        table = table[table["split"] == test_set.split]
        if test_set.methods:
            table = table[(table["is_fake"] == 0) | table["method"].isin(test_set.methods)]
        if test_set.compressions:
            table = table[table["compression"].isin(test_set.compressions)]
        logger.info("test set %s: %d videos (%d fake)", test_set.name, len(table), int(table["is_fake"].sum()))
        tables.append(table.assign(dataset=test_set.name))
    if not tables:
        raise ValueError("none of the configured test sets is present")
    return pd.concat(tables, ignore_index=True)


@step
def evaluate_test_sets(
    config: CrossEvalConfig, test_catalog: pd.DataFrame
) -> tuple[Annotated[pd.DataFrame, "cross_evaluation"], Annotated[HTMLString, "cross_evaluation_report"]]:
    """Clips cut as in training, scored by the model, aggregated per video; one table row per set and method."""
    folder, provenance = resolve_model_folder(config.model)
    detector = Detector.load(folder)
    params = config.clip_params(model_geometry(detector.info) or {})
    store = ClipStore(config.clip_store, params, config.clip_format)
    usable = test_catalog.reset_index(drop=True)
    report = Progress("extract test clips", len(usable), logger)
    progress = lambda done, total, video, cached: report(done, total, video)  # noqa: E731
    clips, failures = extract_catalog_with(config.engine, usable, store, progress, config.ray_address)
    logger.info("%d clips from %d videos, %d failures; scoring with %s (%s)", len(clips), len(usable),
                len(failures), provenance.get("model"), detector.backend)  # fmt: skip
    clips = clips.assign(p_fake=score_table(detector, store, clips) if not clips.empty else [])
    clips = clips.merge(usable[["video_id", "dataset"]], on="video_id", how="left")
    rows = []
    for name, catalog in usable.groupby("dataset", sort=False):
        own = clips[clips["dataset"] == name] if not clips.empty else clips
        rows += metrics_rows(name, video_table(catalog, own), own, detector.threshold, config.bootstrap)
    table = pd.DataFrame(rows)
    logger.info("cross-dataset evaluation of %s:\n%s", provenance.get("model"), table.round(4).to_string(index=False))
    png, html = render(table, f"{provenance.get('model')} ({provenance.get('source')})")
    out = Path(".cache/reports/cross_evaluation") / get_step_context().pipeline_run.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "cross_evaluation.png").write_bytes(png)
    table.to_csv(out / "cross_evaluation.csv", index=False)
    table = table.assign(model=provenance.get("model", ""), model_version=provenance.get("version", ""))
    return table, HTMLString(html)


@step
def publish_cross_evaluation(config: CrossEvalConfig, cross_evaluation: pd.DataFrame) -> None:
    """The table into the model version's metadata and the exported model's card (`model-index` results)."""
    from deepfake_detection.registry import MODEL_NAME

    folder, provenance = resolve_model_folder(config.model)
    rows = cross_evaluation.drop(columns=["model", "model_version"]).round(4)
    summary = {f"{r.dataset} / {r.group}": {"video_auc": r.video_auc, "inconclusive": r.inconclusive,
                                            "videos": r.videos} for r in rows.itertuples()}  # fmt: skip
    version = provenance.get("version")
    if version and version != "unknown":
        log_metadata({"cross_evaluation": summary}, model_name=MODEL_NAME, model_version=version)
        logger.info("cross-dataset results attached to %s version %s", MODEL_NAME, version)
    card = Path(folder) / "README.md"
    if config.update_card and card.is_file():
        card.write_text(add_to_card(card.read_text(), rows))
        logger.info("model card updated: %s", card)

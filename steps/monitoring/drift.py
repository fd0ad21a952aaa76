"""Monitoring steps: the production model's drift reference vs a window of the request log, via Evidently."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.monitoring.drift import DriftSummary, MonitoringConfig, add_to_workspace, run_drift_report
from deepfake_detection.monitoring.request_log import RequestLog
from deepfake_detection.registry import MODEL_NAME

logger = get_logger(__name__)


@step
def load_reference(
    config: MonitoringConfig,
) -> tuple[Annotated[pd.DataFrame, "reference"], Annotated[str, "reference_model_version"]]:
    """The drift reference stored with the current production version (its training videos' features)."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    name = config.model_name or MODEL_NAME
    try:
        version = Client().get_model_version(name, ModelStages.PRODUCTION)
    except KeyError as exc:
        raise RuntimeError(f"no production version of {name}: run the training pipeline first") from exc
    artifact = version.get_artifact("drift_reference")
    if artifact is None:
        raise RuntimeError(f"{name} version {version.name} has no drift_reference artifact (trained before it existed)")
    reference = artifact.load()
    logger.info("reference: %d training videos of %s version %s", len(reference), name, version.name)
    return reference, str(version.name)


@step
def load_current(config: MonitoringConfig) -> Annotated[pd.DataFrame, "current"]:
    """The window of served requests: the last N, and/or those of the last hours, optionally one model version."""
    since = time.time() - config.since_hours * 3600 if config.since_hours else None
    current = RequestLog(config.request_log_dir).read(last=config.last_requests, since=since)
    if config.model_version is not None:
        current = current[current.model_version == config.model_version]
    logger.info("current window: %d requests from %s", len(current), config.request_log_dir)
    return current


@step
def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, config: MonitoringConfig
) -> tuple[Annotated[HTMLString, "drift_report"], Annotated[DriftSummary, "drift_summary"]]:
    """Evidently data drift + data summary; the HTML is a ZenML visualisation, a file, and a workspace run."""
    started = time.monotonic()
    snapshot, summary = run_drift_report(reference, current, config.columns)
    reports = Path(config.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    html_path = reports / f"drift_{time.strftime('%Y%m%d_%H%M%S')}_{config.run_name or 'run'}.html"
    html = snapshot.get_html_str(as_iframe=False)  # rendered once: the file and the ZenML visualisation
    html_path.write_text(html, encoding="utf-8")
    project_id = add_to_workspace(snapshot, config.workspace, config.project, config.columns, config.run_name)
    seconds = time.monotonic() - started
    for c in summary.columns:
        logger.info("  %-15s %-22s score %.4g (threshold %g) %s", c.column, c.method, c.score, c.threshold,
                    "DRIFT" if c.drifted else "ok")  # fmt: skip
    logger.info("%s; report %s; workspace %s project %s (%.1fs)", summary.headline(), html_path, config.workspace,
                project_id, seconds)  # fmt: skip
    log_metadata({"drift": {"headline": summary.headline(), "drift_share": summary.drift_share,
                            "resolution_drifted": summary.resolution_drifted,
                            "compression_drifted": summary.compression_drifted, "report": str(html_path),
                            "seconds": seconds}})  # fmt: skip
    return HTMLString(html), summary


@step
def drift_verdict(summary: DriftSummary, config: MonitoringConfig) -> Annotated[bool, "drifted"]:
    """Alert (log) or fail (config) when resolution or compression drifted."""
    if summary.drifted:
        message = f"DRIFT ALERT: {summary.headline()}"
        if config.fail_on_drift:
            raise RuntimeError(message)
        logger.warning(message)
    else:
        logger.info(summary.headline())
    return summary.drifted

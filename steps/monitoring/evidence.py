"""Monitoring step: the share of served uploads with Content Credentials and with declared AI generation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.monitoring.drift import MonitoringConfig
from deepfake_detection.monitoring.evidence_share import evidence_shares, shares_headline, shares_html

logger = get_logger(__name__)


@step
def evidence_report(
    current: pd.DataFrame, config: MonitoringConfig
) -> tuple[Annotated[HTMLString, "evidence_report"], Annotated[pd.DataFrame, "evidence_shares"]]:
    """Per `config.evidence_period`: uploads, with credentials, declaring AI, failing verification; the HTML is a
    ZenML visualisation and a file beside the drift reports."""
    shares = evidence_shares(current, config.evidence_period)
    headline = shares_headline(shares)
    page = shares_html(shares)
    reports = Path(config.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"evidence_{time.strftime('%Y%m%d_%H%M%S')}_{config.run_name or 'run'}.html"
    path.write_text(page, encoding="utf-8")
    logger.info("%s; report %s", headline, path)
    log_metadata({"evidence": {"headline": headline, "recorded": int(shares["recorded"].sum()) if len(shares) else 0,
                               "with_credentials": int(shares["with_credentials"].sum()) if len(shares) else 0,
                               "declared_ai": int(shares["declared_ai"].sum()) if len(shares) else 0,
                               "report": str(path)}})  # fmt: skip
    return HTMLString(page), shares

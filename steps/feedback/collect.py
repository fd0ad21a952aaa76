"""Collection steps of the feedback pipeline: the reviews, the request log(s) and the retained clips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import step
from zenml.logger import get_logger

from deepfake_detection.feedback.config import FeedbackConfig
from deepfake_detection.feedback.retention import retained_table
from deepfake_detection.feedback.reviews import ReviewStore
from deepfake_detection.monitoring.request_log import DB_NAME, RequestLog

logger = get_logger(__name__)


@step
def load_reviews(config: FeedbackConfig) -> Annotated[pd.DataFrame, "reviews"]:
    """Every stored review (its request-log copy's drift features as JSON text)."""
    store = ReviewStore(config.reviews_url)
    try:
        table = store.table()
    finally:
        store.close()
    table["features"] = table["features"].map(lambda f: json.dumps(f) if f is not None else None)
    logger.info("%d reviews of %d requests from %r (%s)", len(table), table["request_id"].nunique(), store,
                ", ".join(f"{k}: {v}" for k, v in table["source"].value_counts().items()) or "none")  # fmt: skip
    return table


@step
def load_request_log(config: FeedbackConfig) -> Annotated[pd.DataFrame, "request_log"]:
    """The rows of every configured request log (a log that does not exist is skipped, and said so)."""
    tables = []
    for folder in config.request_log_dirs:
        if not (Path(folder) / DB_NAME).is_file():
            logger.warning("no request log in %s: skipped", folder)
            continue
        tables.append(RequestLog(folder).read().assign(request_log=folder))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["request_id"])
    logger.info("%d logged requests from %d logs", len(table), len(tables))
    return table


@step
def load_retained_clips(config: FeedbackConfig) -> Annotated[pd.DataFrame, "retained_clips"]:
    """Every retained clip in the store (with whether its file is there)."""
    table = retained_table(config.retained_clips)
    logger.info("%d retained clips of %d requests in %s", len(table), table["request_id"].nunique(),
                config.retained_clips)  # fmt: skip
    return table

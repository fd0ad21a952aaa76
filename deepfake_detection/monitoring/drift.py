"""Drift of resolution and compression between a model's training videos and served traffic (Evidently 0.7).

Per column Evidently picks its default test for the sample sizes (K-S or chi-square p-values below 1,000 rows,
distances such as Wasserstein above), and a column drifts when its test says so. The verdict the monitoring
pipeline acts on is narrower: did any resolution column or any compression column drift?
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.monitoring.drift_features import CATEGORICAL_COLUMNS, COMPRESSION_COLUMNS, RESOLUTION_COLUMNS

log = logging.getLogger(__name__)
DEFAULT_COLUMNS = [*RESOLUTION_COLUMNS, "fps", *COMPRESSION_COLUMNS, "sharpness", "face_size", "codec"]


class DriftInputError(ValueError):
    """The reference or current data cannot be compared; the message says what is missing."""


class MonitoringConfig(BaseModel):
    """A monitoring run: which requests, which columns, where results go, and what drift does."""

    model_config = ConfigDict(extra="forbid")

    model_name: str | None = Field(None, description="registry model whose production version is the reference; "
                                   "None: deepfake-videomae")  # fmt: skip
    request_log_dir: str = Field(".cache/serving", description="the service's request log folder")
    last_requests: int | None = Field(1000, ge=1, description="current window: the last N logged requests")
    since_hours: float | None = Field(None, gt=0, description="current window: requests of the last hours")
    model_version: str | None = Field(None, description="only requests answered by this model version")
    columns: list[str] = Field(default_factory=lambda: list(DEFAULT_COLUMNS))
    workspace: str = Field(".cache/evidently", description="Evidently workspace the dashboard shows")
    project: str = "deepfake-videomae drift"
    run_name: str | None = Field(None, description="name of the run in the workspace")
    reports_dir: str = ".cache/reports/drift"
    fail_on_drift: bool = Field(False, description="fail the pipeline (else: log an alert) on drift")
    evidence_period: str = Field("1D", description="period of the Content Credentials shares (pandas frequency)")


class ColumnDrift(BaseModel):
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


class DriftSummary(BaseModel):
    reference_rows: int
    current_rows: int
    drift_share: float
    columns: list[ColumnDrift]
    resolution_drifted: list[str]
    compression_drifted: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.resolution_drifted or self.compression_drifted)

    def headline(self) -> str:
        what = []
        if self.resolution_drifted:
            what.append(f"resolution drifted ({', '.join(self.resolution_drifted)})")
        if self.compression_drifted:
            what.append(f"compression drifted ({', '.join(self.compression_drifted)})")
        return (("; ".join(what)) if what else "no resolution or compression drift") + (
            f"; drift share {self.drift_share:.2f} over {len(self.columns)} columns, "
            f"{self.current_rows} requests vs {self.reference_rows} training videos"
        )


def check_inputs(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> None:
    """Fail early, by name, on what Evidently would otherwise trip over later."""
    if current.empty:
        raise DriftInputError("the current window is empty: no logged requests match it (is the service logging?)")
    if reference.empty:
        raise DriftInputError("the reference is empty: the model version has no drift reference rows")
    for name, table in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DriftInputError(f"{name} data lacks the monitored columns {missing}")


def run_drift_report(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]):
    """The Evidently snapshot (data drift + data summary) and its summary."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    check_inputs(reference, current, columns)
    categorical = [c for c in columns if c in CATEGORICAL_COLUMNS]
    numerical = [c for c in columns if c not in categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)

    def dataset(table: pd.DataFrame):
        data = table[columns].copy()
        data[numerical] = data[numerical].apply(pd.to_numeric, errors="coerce").astype(float)
        data[categorical] = data[categorical].astype(str)
        return Dataset.from_pandas(data, data_definition=definition)

    report = Report([DataDriftPreset(columns=columns), DataSummaryPreset(columns=columns)])
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant column (one codec, one size) divides by 0
        snapshot = report.run(dataset(current), dataset(reference))  # inside Evidently's tests; they say NaN
    return snapshot, summarize(snapshot, len(reference), len(current))


def summarize(snapshot, reference_rows: int, current_rows: int) -> DriftSummary:
    per_column: list[ColumnDrift] = []
    share = 0.0
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        kind = config["type"].rsplit(":", 1)[-1]
        if kind == "DriftedColumnsCount":
            share = float(metric["value"]["share"])
        elif kind == "ValueDrift":
            score, threshold, method = float(metric["value"]), float(config["threshold"]), str(config["method"])
            drifted = score < threshold if "p_value" in method else score >= threshold
            per_column.append(ColumnDrift(column=config["column"], method=method, score=score, threshold=threshold,
                                          drifted=drifted))  # fmt: skip
    drifted = {c.column for c in per_column if c.drifted}
    return DriftSummary(
        reference_rows=reference_rows,
        current_rows=current_rows,
        drift_share=share,
        columns=per_column,
        resolution_drifted=[c for c in RESOLUTION_COLUMNS if c in drifted],
        compression_drifted=[c for c in COMPRESSION_COLUMNS if c in drifted],
    )


def open_project(workspace: str | Path, name: str, columns: list[str]):
    """The workspace project, created with its dashboard on first use: a drift-share series and a panel per column."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel
    from evidently.ui.workspace import Workspace

    ws = Workspace.create(str(workspace))
    found = ws.search_project(name)
    if found:
        return ws, found[0]
    project = ws.create_project(name, description="Resolution and compression of served videos vs training videos")
    project.dashboard.add_panel(
        line_plot_panel(
            "Share of drifted columns",
            [PanelMetric(legend="drift share", metric="DriftedColumnsCount", metric_labels={"value_type": "share"})],
            description="per monitoring run",
        )
    )
    for column in columns:
        project.dashboard.add_panel(
            line_plot_panel(
                f"{column}: drift test",
                [PanelMetric(legend=column, metric="ValueDrift", metric_labels={"column": column})],
                description="p-value (drift below 0.05) or distance (drift above 0.1), per monitoring run",
                size="half",
            )
        )
    return ws, project


def add_to_workspace(snapshot, workspace: str | Path, project_name: str, columns: list[str], run_name: str | None):
    """Store the run in the Evidently workspace; returns the project id."""
    ws, project = open_project(workspace, project_name, columns)
    ws.add_run(project.id, snapshot, include_data=False, name=run_name)
    return str(project.id)

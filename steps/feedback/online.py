"""Online evaluation step: the registry's production and staging versions on the reviewed traffic."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from deepfake_detection.feedback.config import FeedbackConfig
from deepfake_detection.feedback.online_evaluation import (
    classification_snapshot,
    comparison_table,
    evaluate_models,
    metadata,
)
from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset
from steps.feedback.versions import registry_version, version_detector

logger = get_logger(__name__)


@step
def evaluate_online(
    config: FeedbackConfig, reviewed_dataset: ReviewedDataset
) -> tuple[Annotated[pd.DataFrame, "online_evaluation"], Annotated[HTMLString, "online_evaluation_report"]]:
    """Each configured version scored on the reviewed requests; the rows attached to the version as
    `online_evaluation`, and an Evidently classification report per version in the dashboard's workspace."""
    models = {}
    for which in config.models:
        version = registry_version(config.model_name, which)
        if version is None:
            logger.info("no %s version of %s: not evaluated", which, config.model_name)
            continue
        if any(v == str(version.name) for _, v in models.values()):
            continue  # e.g. version:N that is also production
        models[which] = (version_detector(version), str(version.name))
    if not models:
        raise RuntimeError(f"none of {config.models} exists in the registry for {config.model_name}")
    table, scored = evaluate_models(models, reviewed_dataset, n_boot=config.bootstrap)
    simulated = " (SIMULATED reviews: the demo's own labels)" if reviewed_dataset.simulated else ""
    logger.info("online evaluation on reviewed traffic%s:\n%s", simulated, comparison_table(table))
    reports = Path(config.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d_%H%M%S")
    ws, project = _project(config)
    for name, (detector, version) in models.items():
        log_metadata({"online_evaluation": metadata(table, name, reviewed_dataset)}, model_name=config.model_name,
                     model_version=version)  # fmt: skip
        snapshot = classification_snapshot(scored[name], detector.threshold)
        path = reports / f"online_{stamp}_{name}_v{version}.html"
        path.write_text(snapshot.get_html_str(as_iframe=False), encoding="utf-8")
        run = f"{config.run_name or 'online'}: {name} v{version} on {len(scored[name])} reviewed requests"
        ws.add_run(project.id, snapshot, include_data=False, name=run)
        logger.info("%s version %s: online_evaluation attached; Evidently report %s", name, version, path)
    page = (f"<h3>Online evaluation on reviewed production traffic{html.escape(simulated)}</h3>"
            f"<p>Reviewed dataset {reviewed_dataset.content_hash}; label rule: {html.escape(reviewed_dataset.rule)}"
            f"</p>{table.round(4).to_html(index=False)}<p>Evidently classification reports: {reports} and the "
            f"'{html.escape(config.project)}' project of {config.workspace} (make dashboard).</p>")  # fmt: skip
    return table, HTMLString(page)


def _project(config: FeedbackConfig):
    """The Evidently workspace project of online evaluations, with its dashboard panels on first use."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel
    from evidently.ui.workspace import Workspace

    ws = Workspace.create(config.workspace)
    found = ws.search_project(config.project)
    if found:
        return ws, found[0]
    project = ws.create_project(config.project, description="Registry versions on reviewed production traffic")
    for metric, title in (("RocAuc", "ROC AUC"), ("Precision", "precision"), ("Recall", "recall")):
        panel = line_plot_panel(
            f"{title} on reviewed traffic",
            [PanelMetric(legend=title, metric=metric)],
            description="per evaluated version and run",
            size="half",
        )
        project.dashboard.add_panel(panel)
    return ws, project

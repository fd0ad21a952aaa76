"""Time a monitoring run over 1,000 logged requests (run after `make demo`; prints numbers, asserts nothing).

The 1,000 rows are drawn with replacement from the demo's replayed traffic (`.cache/demo_traffic/*`), written
to a temporary request log, and monitored against the production model's drift reference: once through the
drift library alone (Evidently report + workspace), once as the whole ZenML pipeline.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

from deepfake_detection.monitoring.drift import MonitoringConfig, add_to_workspace, run_drift_report  # noqa: E402
from deepfake_detection.monitoring.request_log import LOG_COLUMNS, RequestLog  # noqa: E402


def main(rows: int = 1000) -> None:
    from zenml.client import Client

    from pipelines.monitoring_pipeline import monitoring_pipeline

    logged = pd.concat([RequestLog(p).read() for p in sorted((REPO / ".cache/demo_traffic").iterdir())])
    sample = logged.sample(rows, replace=True, random_state=0)[[c for c in LOG_COLUMNS if c in logged.columns]]
    reference = Client().get_model_version("deepfake-videomae", "production").get_artifact("drift_reference").load()
    with tempfile.TemporaryDirectory() as tmp:
        log = RequestLog(Path(tmp) / "log")
        t0 = time.monotonic()
        for row in sample.to_dict("records"):
            log.append({k: v for k, v in row.items() if pd.notna(v)})
        t_log = time.monotonic() - t0
        config = MonitoringConfig(request_log_dir=str(Path(tmp) / "log"), workspace=str(Path(tmp) / "ws"),
                                  reports_dir=str(Path(tmp) / "reports"), run_name="bench")  # fmt: skip
        t0 = time.monotonic()
        snapshot, summary = run_drift_report(reference, log.read(last=rows), config.columns)
        add_to_workspace(snapshot, config.workspace, config.project, config.columns, "bench")
        t_lib = time.monotonic() - t0
        t0 = time.monotonic()
        monitoring_pipeline.with_options(enable_cache=False)(config)
        t_pipe = time.monotonic() - t0
    print(f"{rows} requests vs {len(reference)} reference videos: {summary.headline()}")
    print(f"append {rows} rows to the request log: {t_log:.1f}s ({1000 * t_log / rows:.1f} ms/row)")
    print(f"Evidently report + workspace: {t_lib:.1f}s; whole ZenML monitoring pipeline: {t_pipe:.1f}s")


if __name__ == "__main__":
    main()

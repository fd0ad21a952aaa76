"""The monitoring pipeline: production model's drift reference vs served requests -> Evidently -> verdict.

zenml pipeline run pipelines.monitoring_pipeline.monitoring_pipeline -c configs/monitoring.yaml
"""

from __future__ import annotations

from zenml import pipeline

from deepfake_detection.monitoring.drift import MonitoringConfig
from steps.monitoring.drift import drift_report, drift_verdict, load_current, load_reference


@pipeline(name="deepfake_monitoring", enable_cache=False)
def monitoring_pipeline(config: MonitoringConfig):
    reference, _ = load_reference(config)
    current = load_current(config)
    _, summary = drift_report(reference, current, config)
    drift_verdict(summary, config)

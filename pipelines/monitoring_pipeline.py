"""The monitoring pipeline: production model's drift reference vs served requests -> Evidently -> verdict; and the
share of uploads carrying Content Credentials and declaring AI generation, over time.

zenml pipeline run pipelines.monitoring_pipeline.monitoring_pipeline -c configs/monitoring.yaml
"""

from __future__ import annotations

from zenml import pipeline

from deepfake_detection.monitoring.drift import MonitoringConfig
from steps.monitoring.drift import drift_report, drift_verdict, load_current, load_reference
from steps.monitoring.evidence import evidence_report


@pipeline(name="deepfake_monitoring", enable_cache=False)
def monitoring_pipeline(config: MonitoringConfig):
    reference, _ = load_reference(config)
    current = load_current(config)
    evidence_report(current, config)
    _, summary = drift_report(reference, current, config)
    drift_verdict(summary, config)

"""The feedback pipeline: reviews + request log + retained clips -> `reviewed_dataset` -> online evaluation.

zenml pipeline run pipelines.feedback_pipeline.feedback_pipeline -c configs/feedback.yaml
"""

from __future__ import annotations

from zenml import pipeline

from deepfake_detection.feedback.config import FeedbackConfig
from steps.feedback.collect import load_request_log, load_retained_clips, load_reviews
from steps.feedback.dataset import build_reviewed
from steps.feedback.online import evaluate_online
from steps.validation.contracts import enforce_contract


@pipeline(name="deepfake_feedback", enable_cache=False)
def feedback_pipeline(config: FeedbackConfig):
    """reviews, request log, retained clips -> reviewed dataset (GX contract) -> production and staging on it."""
    reviews = load_reviews(config)
    request_log = load_request_log(config)
    retained = load_retained_clips(config)
    dataset, report = build_reviewed(config, reviews, request_log, retained)
    enforce_contract(report, id="enforce_reviewed_contract")
    evaluate_online(config, dataset, after="enforce_reviewed_contract")

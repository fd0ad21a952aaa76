"""The data pipeline: FaceForensics++ (or the demo set) to validated 16-frame face clips.

zenml pipeline run pipelines.data_pipeline.data_pipeline -c configs/demo.yaml
"""

from __future__ import annotations

from zenml import pipeline

from deepfake_detection.config import DataConfig
from steps.etl.clips import build_dataset, extract_clips
from steps.etl.ingest import ingest_videos, prepare_source
from steps.validation.contracts import enforce_contract, validate_table


@pipeline(name="deepfake_data", enable_cache=False)
def data_pipeline(config: DataConfig):
    """ingest -> validate videos -> extract clips -> validate clips -> dataset artifact."""
    root = prepare_source(config)
    catalog = ingest_videos(config, root)
    video_report = validate_table(catalog, "videos", id="validate_videos")
    enforce_contract(video_report, id="enforce_video_contract")
    clips, failures = extract_clips(config, catalog, after="enforce_video_contract")
    clip_report = validate_table(clips, "clips", id="validate_clips")
    enforce_contract(clip_report, id="enforce_clip_contract")
    return build_dataset(config, clips, failures, video_report, clip_report, after="enforce_clip_contract")

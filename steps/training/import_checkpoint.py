"""Import step: a foreign real/fake VideoMAE checkpoint as this run's detector (threshold chosen on val)."""

from __future__ import annotations

from typing import Annotated

from zenml import ArtifactConfig, log_metadata, step
from zenml.enums import ArtifactType
from zenml.logger import get_logger

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.metrics.binary import choose_threshold
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.import_checkpoint import check_geometry, load_real_fake
from deepfake_detection.modeling.stored import INFO_SCHEMA
from deepfake_detection.modeling.training import score_clips
from steps.materializers import DetectorMaterializer

logger = get_logger(__name__)


@step(output_materializers={"detector": DetectorMaterializer})
def import_checkpoint(
    dataset: ClipDataset, source: str, fake_index: int
) -> Annotated[Detector, ArtifactConfig(name="detector", artifact_type=ArtifactType.MODEL)]:
    """The checkpoint with its outputs in (real, fake) order and the Youden threshold of the val split."""
    model, processor = load_real_fake(source, fake_index)
    check_geometry(model.config, dataset.params.clip_len, dataset.params.size)
    detector = Detector(model=model, processor=processor)
    val = dataset.split("val")
    detector.threshold = choose_threshold(val.is_fake.to_numpy(), score_clips(detector, dataset, val))
    detector.info = {
        "schema_version": INFO_SCHEMA,
        "origin": "imported",
        "trained_on_synthetic": False,  # as far as anyone knows: its training data is not recorded
        "base_model": source,
        "trained_on": f"not recorded (imported checkpoint {source})",
        "imported_from": source,
        "imported_fake_index": fake_index,
        "data_hash": dataset.content_hash,
        "clip_geometry": dataset.params.geometry().model_dump(),
        "data_clip_params": dataset.params.model_dump(),
    }
    logger.info("imported %s (fake = its output %d); threshold %.4f chosen on %d val clips of %s",
                source, fake_index, detector.threshold, len(val), dataset.source)  # fmt: skip
    log_metadata({"training": {k: v for k, v in detector.info.items() if k != "data_clip_params"}}, infer_model=True)
    return detector

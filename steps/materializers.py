"""ZenML materializers: `ClipDataset` (tables as Parquet, the rest JSON) and `Detector` (its model folder).

Written through the artifact store's file API, so the artifact works unchanged on a remote store (S3, GCS).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.modeling.detector import Detector


class ClipDatasetMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (ClipDataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def save(self, data: ClipDataset) -> None:
        data.save(self.uri, self.artifact_store.open)

    def load(self, data_type: type[Any]) -> ClipDataset:
        return ClipDataset.load(self.uri, self.artifact_store.open)

    def extract_metadata(self, data: ClipDataset) -> dict[str, Any]:
        return data.summary()

    def save_visualizations(self, data: ClipDataset) -> dict[str, VisualizationType]:
        summary = data.summary()
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in summary["per_split_label"].items())
        html = (
            f"<h3>Clip dataset {summary['content_hash']}</h3><p>{summary['clips']} clips from {summary['videos']}"
            f" videos, {summary['failures']} failures, {summary['bytes_per_clip']:.0f} bytes per clip</p>"
            f"<table><tr><th>split/label</th><th>clips</th></tr>{rows}</table>"
        )
        uri = os.path.join(self.uri, "summary.html")
        with self.artifact_store.open(uri, "w") as f:
            f.write(html)
        return {uri: VisualizationType.HTML}


class DetectorMaterializer(BaseMaterializer):
    """The detector folder (safetensors, configs, threshold) copied file by file into the artifact store."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (Detector,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.MODEL

    def save(self, data: Detector) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            data.save(tmp)
            for path in Path(tmp).iterdir():
                fileio.copy(str(path), os.path.join(self.uri, path.name), overwrite=True)

    def load(self, data_type: type[Any]) -> Detector:
        with tempfile.TemporaryDirectory() as tmp:
            for name in fileio.listdir(self.uri):
                fileio.copy(os.path.join(self.uri, str(name)), os.path.join(tmp, str(name)), overwrite=True)
            return Detector.load(tmp)

    def extract_metadata(self, data: Detector) -> dict[str, Any]:
        return data.scalar_metadata()

"""ZenML materializer for the `ClipDataset` artifact: the clip and failure tables as Parquet, the rest as JSON.

Written through the artifact store's file API, so the artifact works unchanged on a remote store (S3, GCS).
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import pandas as pd
from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from deepfake_detection.config import ClipParams
from deepfake_detection.dataset import ClipDataset


class ClipDatasetMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (ClipDataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def save(self, data: ClipDataset) -> None:
        for name, table in (("clips", data.table), ("failures", data.failures)):
            with self.artifact_store.open(os.path.join(self.uri, f"{name}.parquet"), "wb") as f:
                table.to_parquet(f, index=False)
        meta = {"store_root": data.store_root, "params": data.params.model_dump(), "content_hash": data.content_hash}
        with self.artifact_store.open(os.path.join(self.uri, "dataset.json"), "w") as f:
            f.write(json.dumps(meta, indent=1))

    def load(self, data_type: type[Any]) -> ClipDataset:
        tables = {}
        for name in ("clips", "failures"):
            with self.artifact_store.open(os.path.join(self.uri, f"{name}.parquet"), "rb") as f:
                tables[name] = pd.read_parquet(f)
        with self.artifact_store.open(os.path.join(self.uri, "dataset.json"), "r") as f:
            meta = json.loads(f.read())
        return ClipDataset(
            table=tables["clips"],
            failures=tables["failures"],
            store_root=meta["store_root"],
            params=ClipParams(**meta["params"]),
            content_hash=meta["content_hash"],
        )

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

"""The ZenML materializer of `ReviewedDataset`: its tables as Parquet and the rest as JSON, through the artifact
store's file API (so the artifact works on a remote store); its summary as metadata and a small HTML view."""

from __future__ import annotations

import html
import os
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from deepfake_detection.feedback.reviewed_dataset import ReviewedDataset


class ReviewedDatasetMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (ReviewedDataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def save(self, data: ReviewedDataset) -> None:
        data.save(self.uri, self.artifact_store.open)

    def load(self, data_type: type[Any]) -> ReviewedDataset:
        return ReviewedDataset.load(self.uri, self.artifact_store.open)

    def extract_metadata(self, data: ReviewedDataset) -> dict[str, Any]:
        summary = data.summary()
        return {**{k: v for k, v in summary.items() if k not in ("per_split_label", "excluded")},
                **{f"requests {k}": v for k, v in summary["per_split_label"].items()},
                **{f"excluded, {k}": v for k, v in summary["excluded"].items()}}  # fmt: skip

    def save_visualizations(self, data: ReviewedDataset) -> dict[str, VisualizationType]:
        s = data.summary()
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in s["per_split_label"].items())
        out = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in s["excluded"].items()) or "<li>none</li>"
        simulated = (
            "<p><b>Simulated reviews</b> (made from the demo's own labels).</p>" if s["simulated_reviews"] else ""
        )
        page = (f"<h3>Reviewed dataset {s['content_hash']}</h3>{simulated}<p>{s['requests']} labelled requests, "
                f"{s['clips']} retained clips, from {s['reviews']} reviews; contracts passed: "
                f"{s['contracts_passed']}</p><table><tr><th>split/label</th><th>requests</th></tr>{rows}</table>"
                f"<p>Excluded:</p><ul>{out}</ul><p>Rule: {html.escape(s['rule'])}</p>")  # fmt: skip
        uri = os.path.join(self.uri, "summary.html")
        with self.artifact_store.open(uri, "w") as f:
            f.write(page)
        return {uri: VisualizationType.HTML}

"""A trained detector: the VideoMAE, its processor, the decision threshold and where it came from.

One on-disk format for the ZenML artifact, the BentoML model and a Hugging Face upload: the model folder
(`model.safetensors`, `config.json`, `preprocessor_config.json`), `detector.json` (threshold, provenance)
and the model card `README.md`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_detection.modeling.model import Preprocessing, load_model, predict_proba, save_model

DETECTOR_FILE = "detector.json"


@dataclass
class Detector:
    model: object
    processor: object
    threshold: float = 0.5
    info: dict = field(default_factory=dict)  # base checkpoint, training data, data hash, version, metrics

    @property
    def preprocessing(self) -> Preprocessing:
        return Preprocessing.from_processor(self.processor)

    def score(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """p(fake) of uint8 clips (N, 16, 224, 224, 3)."""
        return predict_proba(self.model, self.preprocessing, clips, batch_size)

    def save(self, folder: str | Path, card: str | None = None) -> Path:
        folder = save_model(self.model, self.processor, folder)
        (folder / DETECTOR_FILE).write_text(json.dumps({"threshold": self.threshold, "info": self.info}, indent=1))
        if card is not None:
            (folder / "README.md").write_text(card)
        return folder

    def scalar_metadata(self) -> dict:
        """Threshold and the scalar provenance fields: what registries show as searchable metadata."""
        return {"threshold": self.threshold, **{k: v for k, v in self.info.items() if isinstance(v, str | int | float)}}

    @staticmethod
    def read_meta(folder: str | Path) -> tuple[float, dict]:
        """(threshold, info) of a saved detector, without loading its weights."""
        meta = json.loads((Path(folder) / DETECTOR_FILE).read_text())
        return float(meta["threshold"]), meta.get("info", {})

    @classmethod
    def load(cls, folder: str | Path) -> Detector:
        model, processor = load_model(folder)
        threshold, info = cls.read_meta(folder)
        return cls(model=model, processor=processor, threshold=threshold, info=info)

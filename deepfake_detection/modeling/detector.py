"""A trained detector: the VideoMAE, its processor, the decision threshold and where it came from.

One on-disk format for the ZenML artifact, the BentoML model and a Hugging Face upload: the model folder
(`model.safetensors`, `config.json`, `preprocessor_config.json`), `detector.json` (threshold, provenance,
the fast path's check), the model card `README.md`, and `openvino/` when a fast path passed its check
(`modeling.fast_path`; its token-merging schedule, if any, in `info.fast_path.token_merging`). torch fp32 is
always there and is the reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.modeling import stored
from deepfake_detection.modeling.fast_path import FastModel, stored_merging, stored_precision
from deepfake_detection.modeling.model import Preprocessing, load_model, predict_proba, save_model
from deepfake_detection.modeling.stored import DETECTOR_FILE


@dataclass
class Detector:
    model: object
    processor: object
    threshold: float = 0.5
    info: dict = field(default_factory=dict)  # base checkpoint, training data, data hash, version, metrics
    fast: FastModel | None = None  # the checked OpenVINO model, when one was built or loaded

    @property
    def preprocessing(self) -> Preprocessing:
        return Preprocessing.from_processor(self.processor)

    @property
    def backend(self) -> str:
        """What `score` runs: "openvino-int8", "openvino-bf16" (with "+tome-<schedule>" when it merges tokens,
        e.g. "openvino-int8+tome-r104") or the reference "torch-fp32"."""
        return self.fast.backend if self.fast is not None else "torch-fp32"

    def score(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """p(fake) of uint8 clips (N, 16, 224, 224, 3), through the fast path when there is one."""
        if self.fast is not None:
            return self.fast.score(self.preprocessing, clips, batch_size)
        return self.score_reference(clips, batch_size)

    def score_reference(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """p(fake) through the torch fp32 model, whatever the fast path."""
        return predict_proba(self.model, self.preprocessing, clips, batch_size)

    def explain(self, clips: np.ndarray, batch_size: int = 4) -> np.ndarray:
        """Tubelet relevance (N, T / 2, H / 16, W / 16 for VideoMAE-B) in [0, 1] per clip: attention rollout
        through the torch model (`modeling.explain`), whatever backend scores. An approximation, on request."""
        from deepfake_detection.modeling.explain import tubelet_relevance

        return tubelet_relevance(self.model, self.preprocessing, clips, batch_size)

    def save(self, folder: str | Path, card: str | None = None) -> Path:
        folder = save_model(self.model, self.processor, folder)
        (folder / DETECTOR_FILE).write_text(json.dumps({"threshold": self.threshold, "info": self.info}, indent=1))
        if card is not None:
            (folder / "README.md").write_text(card)
        if self.fast is not None:
            self.fast.save(folder)
        return folder

    def scalar_metadata(self) -> dict:
        """Threshold and the scalar provenance fields: what registries show as searchable metadata."""
        return {"threshold": self.threshold, **{k: v for k, v in self.info.items() if isinstance(v, str | int | float)}}

    read_meta = staticmethod(stored.read_meta)  # without loading its weights (`modeling.stored`)
    backend_of = staticmethod(stored.backend_of)

    @classmethod
    def load(cls, folder: str | Path, backend: str = "auto") -> Detector:
        """`backend` "auto" runs the stored fast model when it passed its check, "torch" always the reference."""
        if backend not in ("auto", "torch"):
            raise ValueError(f"unknown backend {backend!r}; use auto or torch")
        model, processor = load_model(folder)
        threshold, info = cls.read_meta(folder)
        precision = stored_precision(folder, info) if backend == "auto" else None
        fast = FastModel.load(folder, precision, stored_merging(info)) if precision else None
        return cls(model=model, processor=processor, threshold=threshold, info=info, fast=fast)


def score_table(detector: Detector, clips_from, table: pd.DataFrame, batch_size: int = 16) -> np.ndarray:
    """p(fake) for every stored clip of `table` (its `clip_path`), in order, read from `clips_from` (a
    `data.dataset.ClipDataset` or a `data.clip_store.ClipStore`: anything with `load_clip(path)`)."""
    out = []
    for i in range(0, len(table), batch_size):
        clips = np.stack([np.asarray(clips_from.load_clip(p)) for p in table.clip_path.iloc[i : i + batch_size]])
        out.append(detector.score(clips, batch_size))
    return np.concatenate(out) if out else np.zeros(0, np.float32)

"""The fast CPU path of a trained detector: an OpenVINO model (int8 by NNCF, or bf16), built once at export.

VideoMAE-B in torch fp32 takes ~2 s per 16x224x224 clip on 2 CPU cores; the same network compiled by OpenVINO
runs in bf16 (AVX-512 BF16/AMX) or, quantised to int8 by NNCF's post-training quantisation calibrated on the
model's own validation clips, on VNNI. The torch fp32 model stays the reference: the fast model is written
beside the weights (`openvino/model.xml` + `.bin`) only after it agrees with the reference on validation clips
(max |p_fake difference| and AUC difference within `FastPathConfig`'s tolerances), and the check's numbers go
into the model's metadata (`detector.json` -> `info.fast_path`). Serving, batch scoring and evaluation load the
stored model as it is: nothing is converted at start-up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

FAST_DIR = "openvino"
FAST_FILE = "model.xml"


class FastPathConfig(BaseModel):
    """What to build at export time, and how close to the torch reference it must stay."""

    model_config = ConfigDict(extra="forbid")

    precision: Literal["auto", "int8", "bf16", "none"] = Field(
        "auto", description="auto: int8 (NNCF), else bf16 if int8 fails its check; or one of them; or none"
    )
    calibration_clips: int = Field(64, ge=1, description="validation clips for int8 calibration and the check")
    max_p_diff: float = Field(0.01, ge=0.0, description="largest allowed |p_fake(fast) - p_fake(torch fp32)|")
    max_auc_diff: float = Field(0.005, ge=0.0, description="largest allowed |AUC(fast) - AUC(torch fp32)|")
    require_faster: bool = Field(True, description="keep it only when faster than torch fp32 on these clips")


class FastPathCheck(BaseModel):
    """The agreement check of a fast model against the torch fp32 reference on the same clips."""

    backend: str
    precision: str
    clips: int
    max_p_diff: float
    mean_p_diff: float
    auc_reference: float | None
    auc_fast: float | None
    seconds_per_clip_reference: float
    seconds_per_clip_fast: float
    tolerance_p: float
    tolerance_auc: float
    passed: bool
    reason: str = ""


class FastModel:
    """The OpenVINO model of a detector and the precision it runs at; compiled on first use.

    `precision` "int8": NNCF's int8 where it quantised, bf16 for the rest when the CPU has bf16 (else fp32);
    "bf16": the whole network in bf16 (fp32 on CPUs without it).
    """

    def __init__(self, model, precision: str) -> None:
        self.model, self.precision = model, precision
        self._compiled = None

    @classmethod
    def load(cls, folder: str | Path, precision: str) -> FastModel:
        import openvino as ov

        return cls(ov.Core().read_model(str(Path(folder) / FAST_DIR / FAST_FILE)), precision)

    def save(self, folder: str | Path) -> None:
        import openvino as ov

        (Path(folder) / FAST_DIR).mkdir(parents=True, exist_ok=True)
        ov.save_model(self.model, str(Path(folder) / FAST_DIR / FAST_FILE), compress_to_fp16=False)

    def logits(self, pixel_values: np.ndarray) -> np.ndarray:
        """Logits (B, 2) of preprocessed clips (B, T, 3, H, W) float32."""
        if self._compiled is None:
            import openvino as ov

            core = ov.Core()
            bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            config = {"INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32", "PERFORMANCE_HINT": "LATENCY"}
            self._compiled = core.compile_model(self.model, "CPU", config)
        return np.asarray(self._compiled(pixel_values)[0])

    def score(self, preprocessing, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """p(fake) of uint8 clips (N, T, H, W, 3), preprocessed exactly as for the torch model."""
        out = [
            p_fake_from_logits(self.logits(preprocessing(clips[i : i + batch_size]).numpy()))
            for i in range(0, len(clips), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def stored_precision(folder: str | Path, info: dict) -> str | None:
    """The precision of the fast model stored in a detector folder, if one passed its check; else None."""
    check = info.get("fast_path") or {}
    if check.get("passed") and (Path(folder) / FAST_DIR / FAST_FILE).is_file():
        return str(check["precision"])
    return None


def p_fake_from_logits(logits: np.ndarray) -> np.ndarray:
    """sigmoid(logit_fake - logit_real) = softmax's p(fake): the same formula as the torch path."""
    return (1.0 / (1.0 + np.exp(-(logits[:, 1] - logits[:, 0])))).astype(np.float32)


def logits_only(model):
    """`model` as a module of one tensor in (`pixel_values`), the logits out: what graph exporters (OpenVINO's
    converter, ONNX) trace, since the Hugging Face model returns an output object."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).logits

    return Logits(model)


def convert(model, example: np.ndarray):
    """The torch VideoMAE as an OpenVINO model: `pixel_values` (B, T, 3, H, W) float32, any B -> logits (B, 2)."""
    import openvino as ov
    import torch

    with torch.no_grad():
        return ov.convert_model(
            logits_only(model.eval()), example_input=torch.as_tensor(example[:1]),
            input=[ov.PartialShape([-1, *example.shape[1:]])],
        )  # fmt: skip


def quantize_int8(ov_model, calibration: np.ndarray):
    """NNCF post-training int8 quantisation (transformer preset, SmoothQuant) calibrated on preprocessed clips."""
    import nncf

    dataset = nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))])
    return nncf.quantize(
        ov_model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration),
        preset=nncf.QuantizationPreset.MIXED,
    )  # fmt: skip


def build_fast_path(
    detector, clips: np.ndarray, labels: np.ndarray | None, config: FastPathConfig
) -> tuple[FastPathCheck | None, FastModel | None]:
    """Convert and compress the detector's model and check it against torch fp32 on uint8 `clips`
    (N, T, H, W, 3) with their `labels` (N,): (the check, the fast model when it passed).

    "auto" tries int8, then bf16 when int8 fails; the check returned is the last one tried. A fast model must
    agree within the tolerances and be faster than torch fp32 on these clips. int8 is calibrated on the same
    clips it is checked on: validation clips, never test clips. ((None, None) when `precision` is "none".)
    """
    if config.precision == "none":
        return None, None
    pixel_values = detector.preprocessing(clips).numpy()
    ov_model = convert(detector.model, pixel_values)
    t0 = time.perf_counter()
    reference = detector.score_reference(clips, batch_size=1)
    seconds_reference = (time.perf_counter() - t0) / len(clips)
    check = None
    for precision in ("int8", "bf16") if config.precision == "auto" else (config.precision,):
        fast = FastModel(quantize_int8(ov_model, pixel_values) if precision == "int8" else ov_model, precision)
        check = _check(fast, detector.preprocessing, clips, labels, reference, seconds_reference, config)
        if check.passed:
            return check, fast
    return check, None


def _check(fast: FastModel, preprocessing, clips, labels, reference, seconds_reference, config) -> FastPathCheck:
    fast.logits(preprocessing(clips[:1]).numpy())  # compile before timing
    t0 = time.perf_counter()
    candidate = fast.score(preprocessing, clips, batch_size=1)
    seconds_fast = (time.perf_counter() - t0) / len(clips)
    diff = np.abs(candidate - reference)
    auc_ref = auc_fast = None
    if labels is not None and len(set(np.asarray(labels).tolist())) == 2:
        from sklearn.metrics import roc_auc_score

        auc_ref, auc_fast = float(roc_auc_score(labels, reference)), float(roc_auc_score(labels, candidate))
    reasons = []
    if diff.max() > config.max_p_diff:
        reasons.append(f"max |p_fake difference| {diff.max():.4f} > {config.max_p_diff}")
    if auc_ref is not None and abs(auc_fast - auc_ref) > config.max_auc_diff:
        reasons.append(f"AUC difference {abs(auc_fast - auc_ref):.4f} > {config.max_auc_diff}")
    if config.require_faster and seconds_fast >= seconds_reference:
        reasons.append("not faster than torch fp32")
    return FastPathCheck(
        backend="openvino", precision=fast.precision, clips=len(clips), max_p_diff=float(diff.max()),
        mean_p_diff=float(diff.mean()), auc_reference=auc_ref, auc_fast=auc_fast,
        seconds_per_clip_reference=seconds_reference, seconds_per_clip_fast=seconds_fast,
        tolerance_p=config.max_p_diff, tolerance_auc=config.max_auc_diff, passed=not reasons,
        reason="; ".join(reasons),
    )  # fmt: skip


def calibration_clips(dataset, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Up to `n` validation clips of a `ClipDataset`, half real and half fake where possible: (clips, labels)."""
    val = dataset.split("val")
    if val.empty:
        raise ValueError("the dataset has no validation clips to calibrate and check a fast path on")
    per_class = max(1, n // 2)
    picked = pd.concat(
        [g.sample(min(len(g), per_class), random_state=seed) for _, g in val.groupby("is_fake")]
    ).sort_values("clip_id")
    clips = np.stack([np.asarray(dataset.load_clip(p)) for p in picked["clip_path"]])
    return clips, picked["is_fake"].to_numpy()

"""The fast CPU path of a trained detector: an OpenVINO model (int8 by NNCF, or bf16), built once at export.

VideoMAE-B in torch fp32 takes ~2 s per 16x224x224 clip on 2 CPU cores; the same network compiled by OpenVINO
runs in bf16 (AVX-512 BF16/AMX) or, quantised to int8 by NNCF's post-training quantisation calibrated on the
model's own validation clips, on VNNI. Beside the plain network, candidates with training-free token merging
(`modeling.token_merging`, ToMe schedules from mild to strong) are built the same way: fewer tokens per layer,
less work, if the model's cues survive it. The torch fp32 model stays the reference: every candidate is checked
against it on validation clips (max |p_fake difference| and AUC difference within `FastPathConfig`'s
tolerances, and faster), the fastest that passes is written beside the weights (`openvino/model.xml` + `.bin`),
and the check's numbers, every candidate's included, go into the model's metadata (`detector.json` ->
`info.fast_path`). Serving, batch scoring and evaluation load the stored model as it is: nothing is converted
at start-up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.modeling.merge_schedule import MergeInfo, MergeSchedule

FAST_DIR = "openvino"
FAST_FILE = "model.xml"


# Default merge schedules, mild to strong by the share of the encoder's token-layers left (VideoMAE-B, 1568
# tokens in 12 layers): keep=0.5 (r 65 per layer, 75 %), keep=0.5 decreasing (r 120 -> 10, 68 %), keep=0.3
# (r 91, 65 %), keep=0.2 (r 104, 60 %), keep=0.3 decreasing (r 168 -> 14, 55 %). See benchmarks/README.md.
DEFAULT_MERGING = (
    MergeSchedule(keep=0.5),
    MergeSchedule(keep=0.5, decreasing=True),
    MergeSchedule(keep=0.3),
    MergeSchedule(keep=0.2),
    MergeSchedule(keep=0.3, decreasing=True),
)


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
    token_merging: list[MergeSchedule] = Field(
        default_factory=lambda: [s.model_copy() for s in DEFAULT_MERGING],
        description="ToMe schedules tried beside the unmerged model, mild to strong ([] tries none)",
    )
    proportional_attention: bool = Field(True, description="ToMe's log(size) on the attention logits")


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
    token_merging: MergeInfo | None = None  # the ToMe schedule this candidate runs; None: every token
    # on the check a detector keeps (kept or not): every candidate tried, in order, and what was decided
    candidates: list[FastPathCheck] = Field(default_factory=list)
    summary: str = ""

    @property
    def backend_name(self) -> str:
        return backend_name(self.precision, self.token_merging)


def backend_name(precision: str, merging: MergeInfo | dict | None) -> str:
    """ "openvino-int8", "openvino-bf16", with "+tome-<schedule>" when the model merges tokens ("+tome-r104")."""
    if isinstance(merging, dict):
        merging = MergeInfo(**merging)
    return f"openvino-{precision}" + (f"+tome-{merging.label}" if merging is not None else "")


class FastModel:
    """The OpenVINO model of a detector and the precision it runs at; compiled on first use.

    `precision` "int8": NNCF's int8 where it quantised, bf16 for the rest when the CPU has bf16 (else fp32);
    "bf16": the whole network in bf16 (fp32 on CPUs without it). `merging`: the ToMe schedule baked into the
    graph, if any (for the name; the graph itself merges).
    """

    def __init__(self, model, precision: str, merging: MergeInfo | None = None) -> None:
        self.model, self.precision, self.merging = model, precision, merging
        self._compiled = None
        self._folder = None  # `as_stored`: the temporary folder its weights are read from

    @property
    def backend(self) -> str:
        return backend_name(self.precision, self.merging)

    @classmethod
    def as_stored(cls, model, precision: str, merging: MergeInfo | None = None) -> FastModel:
        """`model` written and read back the way `save` and `load` do, so a check measures the graph that
        serving will run (OpenVINO's serialisation can change how the CPU plugin compiles a graph in bf16:
        measured 3e-4 in p_fake on a merged model)."""
        import tempfile

        import openvino as ov

        keep = tempfile.TemporaryDirectory(prefix="fast-path-")  # the weights are memory-mapped from here
        ov.save_model(model, str(Path(keep.name) / FAST_FILE), compress_to_fp16=False)
        fast = cls(ov.Core().read_model(str(Path(keep.name) / FAST_FILE)), precision, merging)
        fast._folder = keep
        return fast

    @classmethod
    def load(cls, folder: str | Path, precision: str, merging: MergeInfo | dict | None = None) -> FastModel:
        import openvino as ov

        if isinstance(merging, dict):
            merging = MergeInfo(**merging)
        return cls(ov.Core().read_model(str(Path(folder) / FAST_DIR / FAST_FILE)), precision, merging)

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
            # LATENCY: one inference stream on every core. Measured on 2 cores (benchmarks/README.md, token
            # merging): one thread instead of two halves the model's speed alone and leaves the decode workers
            # beside it no faster (65 % vs 68 % of their rate alone), so the threads stay OpenVINO's default
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


def stored_merging(info: dict) -> dict | None:
    """The ToMe schedule of the stored fast model (`MergeInfo` fields), or None when it keeps every token."""
    return (info.get("fast_path") or {}).get("token_merging")


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


def convert(model, example: np.ndarray, module=None):
    """The torch VideoMAE as an OpenVINO model: `pixel_values` (B, T, 3, H, W) float32, any B -> logits (B, 2).

    `module`: what to trace instead of the plain model, e.g. its `TokenMergedVideoMAE` (a static graph per
    schedule: every token count is fixed by the schedule, only the batch is free)."""
    import openvino as ov
    import torch
    from transformers.utils import logging as hf_logging

    # tracing touches every attribute, `loss_function` too, which logs "loss_type=None ... unrecognized" once
    # per process: true of every inference-only VideoMAE and nothing a user acts on
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with torch.no_grad():
            return ov.convert_model(
                (module or logits_only(model)).eval(), example_input=torch.as_tensor(example[:1]),
                input=[ov.PartialShape([-1, *example.shape[1:]])],
            )  # fmt: skip
    finally:
        hf_logging.set_verbosity(verbosity)


def quantize_int8(ov_model, calibration: np.ndarray, merging: bool = False):
    """NNCF post-training int8 quantisation (transformer preset, SmoothQuant) calibrated on preprocessed clips;
    with `merging`, ToMe's matching stays in full precision (`token_merging.MATCHING_SCOPE`)."""
    import logging

    import nncf

    dataset = nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))])
    from deepfake_detection.modeling.token_merging import MATCHING_SCOPE

    ignored = nncf.IgnoredScope(patterns=[MATCHING_SCOPE], validate=False) if merging else None
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(max(level, logging.WARNING))  # not one INFO line per node the ignored scope leaves out
    try:
        return nncf.quantize(
            ov_model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration),
            preset=nncf.QuantizationPreset.MIXED, ignored_scope=ignored,
        )  # fmt: skip
    finally:
        nncf_log.setLevel(level)


def build_fast_path(
    detector, clips: np.ndarray, labels: np.ndarray | None, config: FastPathConfig
) -> tuple[FastPathCheck | None, FastModel | None]:
    """Convert and compress the detector's model, with and without token merging, and check every candidate
    against torch fp32 on uint8 `clips` (N, T, H, W, 3) with their `labels` (N,): (the check, the fast model
    kept, or None).

    Candidates: the plain network, then each `config.token_merging` schedule (mild to strong); for each, int8,
    and bf16 only when int8 fails ("auto"), or the one `precision`. A candidate passes when it agrees within the
    tolerances and is faster than torch fp32 on these clips; the fastest passing one is kept. The check returned
    is the kept candidate's or, when none passes, that of the plain network's last precision tried (today's
    answer); either way it lists every candidate (`candidates`) and says what was decided (`summary`). int8 is
    calibrated on the same clips it is checked on: validation clips, never test clips. ((None, None) when
    `precision` is "none".)
    """
    if config.precision == "none":
        return None, None
    from deepfake_detection.modeling.token_merging import merged  # torch: only where the export runs

    pixel_values = detector.preprocessing(clips).numpy()
    reference, seconds_reference = _reference(detector, clips)
    precisions = ("int8", "bf16") if config.precision == "auto" else (config.precision,)
    candidates: list[FastPathCheck] = []
    kept: tuple[FastPathCheck, FastModel] | None = None  # only the fastest passing model is held
    plain_check, seen = None, set()
    for schedule in (None, *config.token_merging):
        module = merged(detector.model, schedule, config.proportional_attention) if schedule else None
        merge = MergeInfo.of(module, schedule) if module is not None and any(module.r) else None
        if (merge.label if merge else "") in seen:  # resolves to a schedule already tried (e.g. r=0)
            continue
        seen.add(merge.label if merge else "")
        ov_model = convert(detector.model, pixel_values, module if merge else None)
        for precision in precisions:
            source = quantize_int8(ov_model, pixel_values, merge is not None) if precision == "int8" else ov_model
            fast = FastModel.as_stored(source, precision, merge)
            check = _check(fast, detector.preprocessing, clips, labels, reference, seconds_reference, config)
            candidates.append(check)
            plain_check = check if merge is None else plain_check
            if check.passed:
                if kept is None or check.seconds_per_clip_fast < kept[0].seconds_per_clip_fast:
                    kept = (check, fast)
                break
    result = (kept[0] if kept else plain_check).model_copy(update={"candidates": candidates})
    result.summary = _summary(result, kept is not None)
    return result, kept[1] if kept else None


def _summary(result: FastPathCheck, kept: bool) -> str:
    """One sentence on what was kept and why, for the logs and the model card."""
    merged_ones = [c for c in result.candidates if c.token_merging is not None]
    if kept:
        ratio = result.seconds_per_clip_fast / result.seconds_per_clip_reference
        text = (f"kept {result.backend_name}: {result.seconds_per_clip_fast:.3g} s/clip, {ratio:.2f}x torch fp32, "
                f"the fastest of {sum(c.passed for c in result.candidates)} passing candidates "
                f"(of {len(result.candidates)})")  # fmt: skip
    else:
        text = f"no fast path kept: every candidate failed (plain network: {result.reason})"
    if merged_ones and result.token_merging is None:
        why = [f"{c.backend_name}: {c.reason}" if not c.passed else f"{c.backend_name}: passed, slower"
               for c in merged_ones]  # fmt: skip
        text += "; token merging not used (" + "; ".join(why) + ")"
    return text


def check_fast_model(detector, fast: FastModel, clips: np.ndarray, labels: np.ndarray | None,
                     config: FastPathConfig) -> FastPathCheck:  # fmt: skip
    """The agreement and speed check of one fast model built by hand (`FastModel.as_stored`) against the
    detector's torch fp32 model on uint8 `clips` (N, T, H, W, 3), as `build_fast_path` checks its candidates."""
    reference, seconds_reference = _reference(detector, clips)
    return _check(fast, detector.preprocessing, clips, labels, reference, seconds_reference, config)


def _reference(detector, clips: np.ndarray) -> tuple[np.ndarray, float]:
    """torch fp32 p(fake) of `clips` one at a time, and its seconds per clip."""
    t0 = time.perf_counter()
    reference = detector.score_reference(clips, batch_size=1)
    return reference, (time.perf_counter() - t0) / len(clips)


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
        backend="openvino", precision=fast.precision, token_merging=fast.merging, clips=len(clips),
        max_p_diff=float(diff.max()), mean_p_diff=float(diff.mean()), auc_reference=auc_ref, auc_fast=auc_fast,
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

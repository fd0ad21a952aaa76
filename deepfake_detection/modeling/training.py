"""Fine-tuning VideoMAE on stored face clips, as the model card describes.

Adam; binary cross-entropy on p(fake) = sigmoid(logit_fake - logit_real), the probability every answer
reports (`model.binary_loss`), so the trained and the reported probability are one; dropout before the head;
learning rate
1e-4 with exponential decay per epoch; early stopping on validation AUC with the best checkpoint kept; the
backbone frozen first and its top blocks unfrozen on the schedule in the config. Class imbalance (FF++ has
4-5 fakes per original) is handled by a class-balanced sampler (default) or a positive-class loss weight.

Runs through Hugging Face Accelerate, so `accelerate launch` spreads it over several GPUs and mixed precision
turns on by config, with no code change. Every epoch saves a resumable checkpoint; an interrupted run with
`resume=True` continues where it stopped and ends with the same weights (each epoch reseeds from
`seed + epoch`, so no RNG state has to survive the interruption).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.metrics.binary import binary_metrics
from deepfake_detection.modeling.augment import AugmentParams, augment_clip
from deepfake_detection.modeling.detector import Detector, score_table
from deepfake_detection.modeling.model import (
    ModelParams,
    Preprocessing,
    binary_loss,
    build_model,
    save_model,
    set_trainable_blocks,
)
from deepfake_detection.modeling.sbi import BlendDraw, SBIParams, clip_landmarks, sbi_table, self_blend

log = logging.getLogger(__name__)
# accelerate logs every file of every checkpoint at INFO ("[RANK 0] Saving current state ..."): the epoch line says it
logging.getLogger("accelerate.checkpointing").setLevel(logging.WARNING)
logging.getLogger("accelerate.accelerator").setLevel(logging.WARNING)


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ModelParams = Field(default_factory=ModelParams)
    epochs: int = Field(25, ge=1)
    batch_size: int = Field(32, ge=1, description="effective batch = batch_size x grad_accum x processes")
    grad_accum: int = Field(1, ge=1)
    lr: float = 1e-4
    lr_decay: float = Field(0.9, gt=0, le=1, description="multiplied into the learning rate after each epoch")
    patience: int = Field(5, ge=1, description="epochs without a better validation AUC before stopping")
    unfreeze: dict[int, int] = Field(
        default_factory=lambda: {0: 0, 3: 2, 6: 4, 10: 100},
        description="epoch -> number of top transformer blocks trained from that epoch (0: head only)",
    )
    balance: str = Field("sampler", pattern="^(sampler|loss|none)$")
    augment: AugmentParams = Field(default_factory=AugmentParams)
    sbi: SBIParams = Field(default_factory=SBIParams, description="self-blended pseudo-fakes (modeling.sbi)")
    seed: int = 0
    mixed_precision: str = Field("auto", pattern="^(auto|no|bf16|fp16)$", description="auto: bf16 on GPU")
    gradient_checkpointing: str = Field("auto", pattern="^(auto|on|off)$", description="auto: on GPU")
    num_workers: int = 0
    eval_batch_size: int = 16
    num_processes: int = Field(1, ge=1, description="> 1: `accelerate launch` this many processes (one per GPU)")

    def blocks_at(self, epoch: int) -> int:
        return next((self.unfreeze[e] for e in sorted(self.unfreeze, reverse=True) if e <= epoch), 0)


class ClipTorchDataset(Dataset):
    """Stored clips and labels; random draws (SBI blends, augmentation) come from (seed, epoch, index), so they
    are reproducible. Rows with `sbi` set are real clips turned into self-blended pseudo-fakes on the fly."""

    def __init__(self, dataset: ClipDataset, table: pd.DataFrame, augment: AugmentParams | None, seed: int = 0):
        self.dataset, self.table, self.augment, self.seed = dataset, table.reset_index(drop=True), augment, seed
        self.epoch = 0
        self._landmarks: dict[str, np.ndarray] = {}  # per process: each loader worker keeps its own

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        path = self.table.clip_path[i]
        clip = np.array(self.dataset.load_clip(path))  # a writable copy (of the memory map, for raw clips)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if "sbi" in self.table and self.table.sbi[i]:
            if path not in self._landmarks:
                self._landmarks[path] = clip_landmarks(clip, self.dataset.params.margin)
            clip, _ = self_blend(clip, self._landmarks[path], BlendDraw.draw(rng))
        if self.augment is not None:
            clip = augment_clip(clip, self.augment, rng)
        return torch.from_numpy(np.ascontiguousarray(clip)), int(self.table.is_fake[i])


@dataclass
class TrainResult:
    best_dir: Path
    best_epoch: int
    best_val_auc: float
    history: list[dict] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    stopped_early: bool = False


def train(
    dataset: ClipDataset,
    params: TrainParams,
    out_dir: str | Path,
    resume: bool = False,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train on the `train` split, select on `val`; the best model is saved to `out_dir/best`."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed

    out_dir = Path(out_dir)
    cuda = torch.cuda.is_available()
    precision = params.mixed_precision if params.mixed_precision != "auto" else ("bf16" if cuda else "no")
    # frozen blocks get no gradients: under DDP that must be allowed, since the unfreeze schedule changes the set
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(mixed_precision=precision, gradient_accumulation_steps=params.grad_accum, cpu=not cuda,
                              kwargs_handlers=[ddp])  # fmt: skip
    set_seed(params.seed)
    model, processor = build_model(params.model, dataset.params.clip_len, dataset.params.size)
    if params.gradient_checkpointing == "on" or (params.gradient_checkpointing == "auto" and cuda):
        model.gradient_checkpointing_enable()
    preprocess = Preprocessing.from_processor(processor)
    train_table = sbi_table(dataset.split("train"), params.sbi.mode)
    val_table = validation_table(dataset, params.sbi.mode)
    if train_table.empty or val_table.empty or train_table.is_fake.nunique() < 2:
        raise ValueError("training needs both classes in the train split and a non-empty val split")

    train_ds = ClipTorchDataset(dataset, train_table, params.augment, params.seed)
    labels = train_table.is_fake.to_numpy()
    counts = np.bincount(labels, minlength=2)
    fake_weight = float(counts[0] / counts[1]) if params.balance == "loss" else None  # weight the fake terms
    log.info("train: %d clips (%d real, %d fake), val: %d clips; balance=%s, precision=%s",
             len(labels), counts[0], counts[1], len(val_table), params.balance, precision)  # fmt: skip

    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=params.lr_decay)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    state = {"epoch": 0, "best_auc": -math.inf, "best_epoch": -1, "bad_epochs": 0, "history": []}
    last = out_dir / "last"
    if resume and (last / "trainer_state.json").is_file():
        accelerator.load_state(str(last))
        state = json.loads((last / "trainer_state.json").read_text())
        log.info(
            "resuming after epoch %d (best val AUC %.4f at epoch %d)",
            state["epoch"],
            state["best_auc"],
            state["best_epoch"],
        )

    epoch_times = []
    for epoch in range(state["epoch"], params.epochs):
        if state["bad_epochs"] >= params.patience:
            break
        t0 = time.monotonic()
        torch.manual_seed(params.seed + epoch)
        trainable = set_trainable_blocks(accelerator.unwrap_model(model), params.blocks_at(epoch))
        train_ds.epoch = epoch
        # prepared each epoch: under `accelerate launch` every process gets its shard of the epoch's sample order
        loader = accelerator.prepare_data_loader(_train_loader(train_ds, labels, params, epoch))
        model.train()
        losses = []
        for clips, y in loader:
            with accelerator.accumulate(model):
                logits = model(pixel_values=preprocess(clips).to(accelerator.device)).logits
                loss = binary_loss(logits, y.to(accelerator.device), fake_weight)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            losses.append(float(loss.detach()))
        scheduler.step()
        val = evaluate_split(accelerator.unwrap_model(model), processor, dataset, val_table, params.eval_batch_size)
        epoch_times.append(time.monotonic() - t0)
        record = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "val_auc": val["auc"],
            "val_loss": val["log_loss"],
            "val_accuracy@0.5": val["accuracy"],
            "lr": float(optimizer.param_groups[0]["lr"]),
            "trainable": trainable,
            "seconds": epoch_times[-1],
            "processes": accelerator.num_processes,
        }
        improved = val["auc"] > state["best_auc"]
        if improved:
            state.update(best_auc=val["auc"], best_epoch=epoch, bad_epochs=0)
            if accelerator.is_main_process:
                save_model(accelerator.unwrap_model(model), processor, out_dir / "best")
        else:
            state["bad_epochs"] += 1
        state["history"].append(record)
        state["epoch"] = epoch + 1
        log.info(
            "epoch %d: loss %.4f, val AUC %.4f%s, lr %.2e, %.0fs, training %s",
            epoch, record["train_loss"], val["auc"], " (best)" if improved else "", record["lr"],
            record["seconds"], ",".join(trainable),
        )  # fmt: skip
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            accelerator.save_state(str(last))
            (last / "trainer_state.json").write_text(json.dumps(state, indent=1))
        if on_epoch_end:
            on_epoch_end(record)
    return _result(out_dir, state, params, epoch_times)


def load_result(out_dir: str | Path, params: TrainParams) -> TrainResult:
    """The result of a run from its folder (what a launched multi-process run leaves behind)."""
    out_dir = Path(out_dir)
    state = json.loads((out_dir / "last" / "trainer_state.json").read_text())
    return _result(out_dir, state, params, [h["seconds"] for h in state["history"]])


def _result(out_dir: Path, state: dict, params: TrainParams, epoch_seconds: list[float]) -> TrainResult:
    return TrainResult(
        best_dir=out_dir / "best",
        best_epoch=state["best_epoch"],
        best_val_auc=state["best_auc"],
        history=state["history"],
        seconds_per_epoch=float(np.mean(epoch_seconds)) if epoch_seconds else 0.0,
        stopped_early=state["bad_epochs"] >= params.patience and state["epoch"] < params.epochs,
    )


def _train_loader(ds: ClipTorchDataset, labels: np.ndarray, params: TrainParams, epoch: int) -> DataLoader:
    generator = torch.Generator().manual_seed(params.seed * 1000 + epoch)
    sampler = None
    if params.balance == "sampler":
        weights = 1.0 / np.bincount(labels, minlength=2)[labels]
        sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), len(labels), generator=generator)
    return DataLoader(
        ds, batch_size=params.batch_size, sampler=sampler, shuffle=sampler is None, generator=generator,
        num_workers=params.num_workers, drop_last=False,
    )  # fmt: skip


def validation_table(dataset: ClipDataset, sbi_mode: str) -> pd.DataFrame:
    """The clips model selection and the threshold see: the val split, or with `real_only` SBI its reals and
    their SBI copies (the fake methods are what such a model must never have seen, even in selection)."""
    val = dataset.split("val")
    return sbi_table(val, "real_only") if sbi_mode == "real_only" else val


def score_clips(detector: Detector, dataset: ClipDataset, table: pd.DataFrame, batch_size: int = 16) -> np.ndarray:
    """p(fake) of a table's clips through the one scoring path; SBI rows are blended with the draw of epoch 0,
    so they are the same every time they are scored."""
    if not ("sbi" in table and table.sbi.any()):
        return score_table(detector, dataset, table, batch_size)
    ds = ClipTorchDataset(dataset, table, None)
    return np.concatenate([
        detector.score(np.stack([ds[j][0].numpy() for j in range(i, min(i + batch_size, len(ds)))]), batch_size)
        for i in range(0, len(ds), batch_size)
    ])  # fmt: skip


def evaluate_split(model, processor, dataset: ClipDataset, table: pd.DataFrame, batch_size: int) -> dict:
    """Validation metrics at 0.5 through the same scoring path as evaluation and serving."""
    p = score_clips(Detector(model, processor), dataset, table, batch_size)
    return binary_metrics(table.is_fake.to_numpy(), p, 0.5)

"""VideoMAE for real-vs-fake: build from a checkpoint or a config, preprocess clips, freeze and unfreeze.

Real runs start from a Kinetics-400 checkpoint (`MCG-NJU/videomae-base-finetuned-kinetics`, by hub id or a
local folder; offline, so it must already be in the HF cache or on disk) and replace its 400-class head with
a 2-output head (index 0 real, 1 fake) behind dropout. The demo and the tests build a small VideoMAE from a
config (`from_scratch`), and the run's metadata says so. Normalisation constants are read from the
checkpoint's processor config and saved next to the model: training, evaluation and serving all read them
from there, never from a second hard-coded copy.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

LABELS = {0: "real", 1: "fake"}
# The ImageNet statistics the Kinetics VideoMAE checkpoints were trained with; used only when building from
# scratch, and then saved with the model like any checkpoint's processor config.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# set from the clip geometry and the task, never by `ModelParams.scratch`
FIXED_BY_PROJECT = {"num_frames", "image_size", "num_labels", "id2label", "label2id"}


class ModelParams(BaseModel):
    """Which VideoMAE to start from."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(None, description="hub id or local folder; None builds from `scratch`")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout before the 2-output head")
    scratch: dict = Field(
        default_factory=lambda: {
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 128,
        },
        description="VideoMAEConfig overrides for a from-scratch model (demo and tests)",
    )

    @field_validator("scratch")
    @classmethod
    def _known_architecture(cls, scratch: dict) -> dict:
        """Overrides must name `VideoMAEConfig` fields: a typo (`hiden_size`) fails here, before any work, instead
        of silently building a full-size model."""
        import inspect

        from transformers import VideoMAEConfig

        known = set(inspect.signature(VideoMAEConfig.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(scratch) - known - FIXED_BY_PROJECT)
        if unknown:
            close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
            hints = ", ".join(f"{k!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for k, c in close.items())
            raise ValueError(f"model.scratch: not a VideoMAEConfig field: {hints}")
        fixed = sorted(set(scratch) & FIXED_BY_PROJECT)
        if fixed:
            raise ValueError(f"model.scratch: {', '.join(fixed)} are set by the project (the clip geometry, the "
                             "2-output head), not by overrides")  # fmt: skip
        return scratch

    @property
    def source(self) -> str:
        return self.checkpoint or "from-scratch:" + ",".join(f"{k}={v}" for k, v in sorted(self.scratch.items()))


@dataclass(frozen=True)
class Preprocessing:
    """uint8 (T, H, W, 3) clips to VideoMAE's float (T, 3, H, W) input: rescale, then normalise."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale_factor: float
    size: int

    @classmethod
    def from_processor(cls, processor) -> Preprocessing:
        crop = processor.crop_size
        size = crop["height"] if isinstance(crop, dict) else crop.height
        return cls(
            mean=tuple(float(v) for v in processor.image_mean),
            std=tuple(float(v) for v in processor.image_std),
            rescale_factor=float(processor.rescale_factor),
            size=int(size),
        )

    def __call__(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """A batch (B, T, H, W, 3) or one clip (T, H, W, 3) of uint8 to normalised float32 (.., T, 3, H, W)."""
        with warnings.catch_warnings():  # read-only memory maps are fine: the float copy below is what changes
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            x = torch.as_tensor(np.asarray(clips) if not isinstance(clips, torch.Tensor) else clips)
        if x.shape[-2] != self.size or x.shape[-3] != self.size:
            raise ValueError(f"clips are {tuple(x.shape[-3:-1])}, the model expects {self.size}x{self.size}")
        # channels first while still uint8 (a quarter of the bytes), then one fused scale-and-shift in place:
        # (x * rescale - mean) / std == x * (rescale / std) - mean / std
        x = x.movedim(-1, -3).float()
        scale = torch.tensor([self.rescale_factor / s for s in self.std]).view(3, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(self.mean, self.std, strict=True)]).view(3, 1, 1)
        return x.mul_(scale).sub_(shift)


def _processor_class():
    # The torchvision-backed processor cannot load here (no torchvision); the PIL one reads the same config.
    from transformers import VideoMAEImageProcessorPil

    return VideoMAEImageProcessorPil


def build_model(params: ModelParams, num_frames: int = 16, image_size: int = 224):
    """(model, processor): a 2-output VideoMAE with dropout before the head."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    if params.checkpoint:
        model = VideoMAEForVideoClassification.from_pretrained(
            params.checkpoint, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
            ignore_mismatched_sizes=True,  # drop the 400-class Kinetics head
        )  # fmt: skip
        processor = _processor_class().from_pretrained(params.checkpoint)
    else:
        config = VideoMAEConfig(
            num_frames=num_frames, image_size=image_size, num_labels=2, id2label=LABELS,
            label2id={v: k for k, v in LABELS.items()}, **params.scratch,
        )  # fmt: skip
        model = VideoMAEForVideoClassification(config)
        processor = _processor_class()(
            image_mean=list(IMAGENET_MEAN),
            image_std=list(IMAGENET_STD),
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        )
    model.config.classifier_dropout = params.dropout
    _add_head_dropout(model, params.dropout)
    return model, processor


def _add_head_dropout(model, p: float) -> None:
    """Dropout on the pooled features, right before the classifier.

    A parameter-free module plus a forward pre-hook keeps the checkpoint's keys standard, so the saved model
    loads with plain `from_pretrained`; `config.classifier_dropout` records p so a reload rebuilds it.
    """
    if getattr(model, "head_dropout", None) is None:
        model.head_dropout = nn.Dropout(p)
        model.classifier.register_forward_pre_hook(lambda _, args: (model.head_dropout(args[0]), *args[1:]))
    model.head_dropout.p = p


def save_model(model, processor, folder: str | Path) -> Path:
    """Weights as safetensors, config and processor config: a folder `load_model` (and serving) reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def load_model(folder: str | Path):
    """(model, processor) from a folder written by `save_model`, in eval mode."""
    from transformers import VideoMAEForVideoClassification

    model = VideoMAEForVideoClassification.from_pretrained(folder)
    _add_head_dropout(model, float(getattr(model.config, "classifier_dropout", 0.0) or 0.0))
    processor = _processor_class().from_pretrained(folder)
    return model.eval(), processor


def encoder_blocks(model) -> list[nn.Module]:
    return list(model.videomae.encoder.layer)


def set_trainable_blocks(model, top_blocks: int) -> list[str]:
    """Freeze the backbone except its top `top_blocks` transformer blocks; the head always trains.

    Returns the names of the trainable parts, for the training log.
    """
    for p in model.parameters():
        p.requires_grad = False
    trainable = ["classifier"]
    for p in model.classifier.parameters():
        p.requires_grad = True
    if getattr(model, "fc_norm", None) is not None:
        for p in model.fc_norm.parameters():
            p.requires_grad = True
        trainable.append("fc_norm")
    blocks = encoder_blocks(model)
    top_blocks = max(0, min(top_blocks, len(blocks)))
    for i in range(len(blocks) - top_blocks, len(blocks)):
        for p in blocks[i].parameters():
            p.requires_grad = True
        trainable.append(f"block{i}")
    if top_blocks >= len(blocks):
        for p in model.videomae.embeddings.parameters():
            p.requires_grad = True
        trainable.append("embeddings")
    return trainable


def fake_logit(logits: torch.Tensor) -> torch.Tensor:
    """The one logit of p(fake) from the 2-output head (N, 2) -> (N,): logit_fake - logit_real.

    sigmoid of it is the two-way softmax's p(fake). Training's binary cross-entropy is taken on this logit
    (`binary_loss`) and every reported p_fake is sigmoid of it, so the probability a person reads is the one
    the loss optimised (log loss and ECE measure that same number).
    """
    return logits[:, 1] - logits[:, 0]


def binary_loss(logits: torch.Tensor, is_fake: torch.Tensor, fake_weight: float | None = None) -> torch.Tensor:
    """Binary cross-entropy of p(fake) = sigmoid(`fake_logit`) against 0 real / 1 fake labels (N,), mean over the
    batch; `fake_weight` weights the fake class's terms (class imbalance)."""
    weight = None if fake_weight is None else torch.tensor(fake_weight, device=logits.device, dtype=torch.float32)
    return nn.functional.binary_cross_entropy_with_logits(
        fake_logit(logits.float()), is_fake.float(), pos_weight=weight
    )


@torch.no_grad()
def predict_proba(model, preprocessing: Preprocessing, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """p(fake) for a stack of uint8 clips (N, T, H, W, 3); the one scoring path for evaluation and serving."""
    model.eval()
    out = []
    for i in range(0, len(clips), batch_size):
        logits = model(pixel_values=preprocessing(clips[i : i + batch_size])).logits
        out.append(torch.sigmoid(fake_logit(logits)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

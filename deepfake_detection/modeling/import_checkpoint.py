"""Bring your own weights: a VideoMAE checkpoint from elsewhere as a version of `deepfake-videomae`.

A checkpoint already fine-tuned for real vs fake is used as is, after its label order is read from
`config.id2label` (never assumed: a head whose index 0 means "fake" is reordered to this project's 0 real /
1 fake by swapping the two output rows, which leaves its p(fake) unchanged). A checkpoint with any other head
(a Kinetics-400 one, for instance) is a starting point: it goes through the training pipeline as its
`model.checkpoint`. Either way the version is evaluated on the latest clip dataset's test split by the same
steps as a trained one, and the promotion gate decides whether it reaches production.

Hub ids resolve from the local Hugging Face cache only (this project runs offline).
"""

from __future__ import annotations

import torch

from deepfake_detection.modeling.model import LABELS, _add_head_dropout, _processor_class

REAL_NAMES = {"real", "original", "pristine", "genuine", "authentic", "bonafide", "bona fide", "live"}
FAKE_NAMES = {"fake", "deepfake", "manipulated", "synthetic", "forged", "spoof", "generated", "df"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be imported (not found, not VideoMAE, unknown label order, wrong geometry)."""


def fake_index(id2label: dict, override: int | None = None) -> int | None:
    """Which of two outputs means fake, from `id2label`; None for a head that is not real/fake (fine-tune it).

    Raises `CheckpointError` for a two-output head whose labels say nothing (LABEL_0/LABEL_1) unless
    `override` gives the index.
    """
    labels = {int(k): str(v).strip().lower() for k, v in id2label.items()}
    if len(labels) != 2:
        return None
    if override is not None:
        return override
    fakes = [i for i, name in labels.items() if name in FAKE_NAMES]
    reals = [i for i, name in labels.items() if name in REAL_NAMES]
    if len(fakes) == 1 and len(reals) == 1:
        return fakes[0]
    raise CheckpointError(f"two outputs labelled {labels}: cannot tell which is fake; pass --fake-index 0 or 1")


def read_config(source: str):
    """The checkpoint's VideoMAEConfig (folder or cached hub id). Raises `CheckpointError`."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{source}: not a model folder or a hub id in the local cache ({exc})") from exc
    if config.model_type != "videomae":
        raise CheckpointError(f"{source} is a {config.model_type!r} model, not VideoMAE")
    return config


def load_real_fake(source: str, fake: int):
    """(model, processor) of a real/fake checkpoint, outputs reordered to (real, fake), in eval mode."""
    from transformers import VideoMAEForVideoClassification

    model = VideoMAEForVideoClassification.from_pretrained(source)
    if fake == 0:  # swap the rows: output 1 is now what was output 0, i.e. fake
        with torch.no_grad():
            model.classifier.weight.copy_(model.classifier.weight.flip(0))
            model.classifier.bias.copy_(model.classifier.bias.flip(0))
    model.config.id2label, model.config.label2id = dict(LABELS), {v: k for k, v in LABELS.items()}
    _add_head_dropout(model, float(getattr(model.config, "classifier_dropout", 0.0) or 0.0))
    try:
        processor = _processor_class().from_pretrained(source)
    except OSError as exc:
        raise CheckpointError(f"{source} has no preprocessor_config.json (normalisation unknown)") from exc
    return model.eval(), processor


def check_geometry(config, clip_len: int, size: int) -> None:
    """The model must take the dataset's clips: `clip_len` frames of `size` x `size`."""
    if (config.num_frames, config.image_size) != (clip_len, size):
        raise CheckpointError(
            f"the checkpoint takes {config.num_frames} frames of {config.image_size} px; the clip "
            f"dataset has {clip_len} frames of {size} px: cut clips with its geometry first"
        )

"""Before a pipeline runs: is what it reads on disk? One line naming what is missing, where it was looked for and
how to get it, instead of a traceback from deep inside a step after minutes of work.

Checked: the data pipeline's FaceForensics++ root (unless it builds the demo set), the training pipeline's
starting checkpoint (a folder, or a hub id already in the Hugging Face cache: everything runs offline), and the
cross-evaluation's test sets (a run stops when none is there; each missing one is named).
"""

from __future__ import annotations

import os
from pathlib import Path

from deepfake_detection.config import DataConfig
from deepfake_detection.evaluation.cross_dataset import CrossEvalConfig
from deepfake_detection.modeling.training_config import TrainingConfig


class MissingInput(Exception):
    """What a run needs is not where its config says; the message is the one line a person reads."""


def check_data(config: DataConfig, config_file: str) -> list[str]:
    if config.demo is None and not Path(config.ffpp_root).is_dir():
        raise MissingInput(
            f"FaceForensics++ is not at {config.ffpp_root} (ffpp_root in {config_file}): download it with the "
            "FaceForensics++ download script (it keeps the official layout) and point ffpp_root at its folder"
        )
    return []


def check_training(config: TrainingConfig, config_file: str) -> list[str]:
    checkpoint = config.train.model.checkpoint
    if checkpoint is None or Path(checkpoint).is_dir():
        return []
    if Path(checkpoint).is_absolute() or checkpoint.startswith((".", "~")) or checkpoint.count("/") != 1:
        raise MissingInput(
            f"the checkpoint folder {checkpoint} (train.model.checkpoint in {config_file}) does not exist"
        )
    from huggingface_hub import constants, try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(checkpoint, "config.json"), str):
        cache = os.environ.get("HF_HUB_CACHE", constants.HF_HUB_CACHE)
        raise MissingInput(
            f"the checkpoint {checkpoint} (train.model.checkpoint in {config_file}) is not in the Hugging Face cache "
            f"({cache}) and this machine is offline: on one with internet run `huggingface-cli download "
            f"{checkpoint}` and copy the cache here (or set HF_HUB_CACHE), or set train.model.checkpoint to a folder"
        )
    return []


def check_cross_eval(config: CrossEvalConfig, config_file: str) -> list[str]:
    missing = [s for s in config.test_sets if not Path(s.root).is_dir()]
    notes = [f"test set {s.name} is not at {s.root}: skipped" for s in missing]
    if missing and len(missing) == len(config.test_sets):
        roots = ", ".join(f"{s.name} at {s.root}" for s in missing)
        raise MissingInput(
            f"none of the test sets in {config_file} is on disk ({roots}): download them (each dataset's own "
            "terms and script) and set their roots"
        )
    return notes


CHECKS = {"data": (DataConfig, check_data), "train": (TrainingConfig, check_training),
          "cross-eval": (CrossEvalConfig, check_cross_eval)}  # fmt: skip

"""Training in several processes: `accelerate launch` of the same `training.train` loop, from the ZenML step.

ZenML's `run_with_accelerate` re-runs a step's function through a command line, which only works for steps whose
inputs are command-line values; the training step takes a dataset artifact and a typed config. So the step
writes both into its work folder and launches this module with `accelerate launch --multi_gpu`; every process
trains its shard of each epoch (DDP: NCCL on GPUs, gloo on CPUs), rank 0 writes the checkpoints, and the step
reads the result back from the folder. The loop is unchanged: one process or many is a launch option.

    python -m deepfake_detection.modeling.launch --work DIR   (what each launched process runs)
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from deepfake_detection.data.dataset import ClipDataset
from deepfake_detection.modeling.training import TrainParams, TrainResult, load_result, train

log = logging.getLogger(__name__)


def write_job(dataset: ClipDataset, params: TrainParams, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    root = dataset.store_root if "://" in dataset.store_root else str(Path(dataset.store_root).resolve())
    replace(dataset, store_root=root).save(str(work))
    (work / "train_params.json").write_text(params.model_dump_json(indent=1))


def read_job(work: Path) -> tuple[ClipDataset, TrainParams]:
    dataset = ClipDataset.load(str(work))
    return dataset, TrainParams.model_validate_json((work / "train_params.json").read_text())


def launch_training(dataset: ClipDataset, params: TrainParams, out_dir: str | Path, num_processes: int) -> TrainResult:
    """Train in `num_processes` processes (one per GPU; CPU processes where there is no GPU) and return the result.

    Resumes like the single-process loop: the same `out_dir` continues an interrupted run.
    """
    out_dir = Path(out_dir)
    write_job(dataset, params, out_dir)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
           "--num_machines", "1", "--dynamo_backend", "no", "--mixed_precision", "no",  # the loop sets precision
           "-m", "deepfake_detection.modeling.launch", "--work", str(out_dir)]  # fmt: skip
    log.info("launching %d training processes: %s", num_processes, " ".join(cmd))
    subprocess.run(cmd, check=True)
    return load_result(out_dir, params)


def main() -> None:
    parser = argparse.ArgumentParser(description="one process of a launched training run")
    parser.add_argument("--work", required=True, type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dataset, params = read_job(args.work)
    train(dataset, params, args.work, resume=True)


if __name__ == "__main__":
    main()

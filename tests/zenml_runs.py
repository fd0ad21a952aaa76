"""Run a ZenML pipeline as a user does (`zenml pipeline run PIPELINE -c config.yaml`), in a subprocess, on the
session's temporary store (ZENML_CONFIG_PATH is inherited)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def run_pipeline(
    repo_root: Path, tmp_path: Path, pipeline: str, name: str, config: dict
) -> subprocess.CompletedProcess:
    """`pipeline` (a dotted path) with `config` as its `config` parameter, run name `name-<pid>`; not checked."""
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"run_name": f"{name}-{os.getpid()}", "parameters": {"config": config}}))
    zenml = os.path.join(os.path.dirname(sys.executable), "zenml")
    return subprocess.run([zenml, "pipeline", "run", pipeline, "-c", str(cfg)], cwd=repo_root, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(repo_root)}, text=True, timeout=900)  # fmt: skip

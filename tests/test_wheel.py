"""The package as users install it: a wheel, outside any checkout, runs `deepfake-detect` (scoring, reviews,
importing a checkpoint through the registry) with the library and applications it ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import video_factory as vf
import yaml
from tiny_models import tiny_detector

from deepfake_detection.config import ClipParams


@pytest.fixture(scope="module")
def installed(tmp_path_factory, repo_root) -> tuple[Path, dict]:
    """The wheel built from this checkout, installed (without dependencies: this venv has them) into a folder of
    its own; the environment that runs it sees that folder, never the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                            str(repo_root)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (root / "dist").glob("deepfake_videomae-*.whl")
    site = root / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZENML_CONFIG_PATH", "BENTOML_HOME")}
    env["PYTHONPATH"] = str(site)
    work = root / "work"  # a user's folder: no checkout, no configs
    work.mkdir()
    return work, env


def run(installed, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    work, env = installed
    return subprocess.run([sys.executable, "-m", "deepfake_cli", *args], cwd=work, env={**env, **extra_env},
                          capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.slow
def test_the_wheel_is_what_runs(installed):
    work, env = installed
    code = "import deepfake_cli, deepfake_detection, steps, pipelines, serving; print(deepfake_detection.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(Path(env["PYTHONPATH"])), out.stdout
    suites = Path(env["PYTHONPATH"]) / "deepfake_detection" / "data" / "suites" / "videos.json"
    assert suites.is_file() and (Path(env["PYTHONPATH"]) / "serving" / "static" / "index.html").is_file()


@pytest.mark.slow
def test_scoring_and_reviews_from_the_wheel(installed, carphone):
    work, _ = installed
    model = tiny_detector(ClipParams(size=64)).save(work / "model")
    vf.write_video(video := work / "talking.mp4", vf.carphone_frames(carphone))
    (settings := work / "serving.yaml").write_text(yaml.safe_dump({"faces": vf.PHONE_FACES.model_dump(),
                                                                   "clips_per_video": 2}))  # fmt: skip
    proc = run(installed, str(video), "--model", str(model), "--settings", str(settings), "--json", "out.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (answer,) = json.loads((work / "out.json").read_text())
    assert answer["verdict"] in ("real", "fake") and answer["provenance"]["state"] == "none"
    listed = run(installed, "reviews", "--settings", str(settings))  # the store in this folder's .cache
    assert listed.returncode == 0 and "no reviews" in listed.stdout, listed.stderr


@pytest.mark.slow
def test_importing_a_checkpoint_from_the_wheel(installed, tmp_path):
    """`deepfake-detect import` runs the import pipeline from the installed packages, state in the current
    folder: a ZenML store there, the version registered, its artifacts loadable."""
    from test_cli import write_hub_checkpoint

    work, env = installed
    zenml_home = work / ".cache" / "zenml"
    code = ("from pathlib import Path; from zenml.utils import source_utils; source_utils.set_custom_source_root('.'); "
            "from zenml import save_artifact; from synthetic_clips import make_clip_dataset; "
            "from steps.materializers import ClipDatasetMaterializer; "
            f"d = make_clip_dataset(Path({str(work / 'clips')!r}), n_per_class=12, size=64, shift=40, light=0.0); "
            "save_artifact(d, name='clip_dataset', materializer=ClipDatasetMaterializer)")  # fmt: skip
    tests = str(Path(__file__).resolve().parent)
    seed = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True, timeout=600,
                          env={**env, "PYTHONPATH": f"{env['PYTHONPATH']}:{tests}",
                               "ZENML_CONFIG_PATH": str(zenml_home)})  # fmt: skip
    assert seed.returncode == 0, seed.stderr[-3000:]
    write_hub_checkpoint(tmp_path / "hub", "test-org/wheel-videomae", {0: "REAL", 1: "FAKE"})
    (config := work / "import.yaml").write_text(
        yaml.safe_dump(
            {"parameters": {"config": {"fast_path": {"precision": "none"}, "report_dir": str(work / "reports")}}}
        )
    )
    proc = run(installed, "import", "test-org/wheel-videomae", "--config", str(config),
               HF_HUB_CACHE=str(tmp_path / "hub"))  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "imported test-org/wheel-videomae (fake = output 1 of its head)" in proc.stdout
    assert zenml_home.is_dir()  # the state is the current folder's

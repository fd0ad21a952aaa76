"""The Bento that `make bento` builds, served by `bentoml serve <tag>` from an empty folder, answers `/detect`.

Everything happens in a BentoML home of its own: a tiny untrained model is exported under the name the
bentofile declares, the Bento is built by `scripts/build_bento.py` (what `make bento` runs), then a second model
is exported so that `latest` moves on: the Bento must still serve the version it was built with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import video_factory as vf
import yaml

from serving.local_server import bentoml_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
MODEL = "deepfake-videomae"  # the model bentofile.yaml declares, as `latest`


def export_tiny_model(threshold: float) -> str:
    """A tiny untrained VideoMAE exported like the pipeline exports (into $BENTOML_HOME); its tag."""
    from tiny_models import tiny_detector

    from deepfake_detection.config import ClipParams
    from deepfake_detection.registry import export_to_bentoml

    detector = tiny_detector(ClipParams(size=64, clips_per_video=2, faces=vf.PHONE_FACES), threshold)
    return export_to_bentoml(detector, "test model", {"stage": "production", "zenml_model_version": "3"}, name=MODEL)


def run(args: list[str], env: dict) -> str:
    """A command in the test's BentoML home; its last line of output."""
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def export_in(env: dict, threshold: float) -> str:
    code = f"import test_bento; print(test_bento.export_tiny_model({threshold}))"
    return run([sys.executable, "-c", code], env)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(BentoML home, Bento tag, the model version the Bento was built with)."""
    home = tmp_path_factory.mktemp("bentoml_home")
    env = {**os.environ, "BENTOML_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    env.pop("DEEPFAKE_SERVING_CONFIG", None)
    packed = export_in(env, 0.5)
    tag = run([sys.executable, "scripts/build_bento.py"], env)  # what `make bento` runs
    later = export_in(env, 0.9)  # `latest` now names another model
    assert later != packed
    return home, tag, packed


@pytest.fixture(scope="module")
def good_video(carphone, tmp_path_factory) -> Path:
    vf.write_video(path := tmp_path_factory.mktemp("videos") / "carphone.mp4", vf.carphone_frames(carphone))
    return path


def test_bento_carries_code_model_and_pinned_dependencies(built):
    home, tag, packed = built
    name, version = tag.split(":")
    bento = home / "bentos" / name / version
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert [(m["tag"], m["alias"]) for m in info["models"]] == [(packed, f"{MODEL}:latest")]
    src = {p.relative_to(bento / "src").as_posix() for p in (bento / "src").rglob("*") if p.is_file()}
    needed = ["serving/service.py", "serving/static/index.html", "configs/serving.yaml",
              "deepfake_detection/scoring/analyze.py", "deepfake_detection/datasets/ffpp_splits/test.json"]  # fmt: skip
    assert set(needed) <= src
    assert not [p for p in src if p.startswith(("tests/", ".cache/", ".venv/")) or "__pycache__" in p]
    requirements = (bento / "env" / "python" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in requirements if "==" in line)
    assert pins["bentoml"] == "1.4.40" and pins["transformers"] == "5.24.0" and pins["fastapi"]
    (torch,) = [line.replace(" ", "") for line in requirements if line.startswith("torch")]
    import torch as installed

    if installed.__version__.endswith("+cpu"):  # the CPU build, by its wheel's URL (PyPI's Linux torch is CUDA)
        assert torch.startswith("torch@https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp311")
    else:
        assert torch == "torch==2.13.0"
    assert not {"torchvision", "zenml", "ray", "evidently", "great-expectations"} & set(pins)


def test_built_bento_answers_detect_from_an_empty_folder(built, good_video, tmp_path, monkeypatch):
    home, tag, packed = built
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # the server compiles what it imports, where it is
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    for name in ("log", "uploads"):
        (tmp_path / name).mkdir()
    settings = {
        "model_tag": f"{MODEL}:latest",  # the Bento's alias: the version it was built with, not the newest
        "clips_per_video": 2,
        "faces": vf.PHONE_FACES.model_dump(),
        "max_latency_ms": 500,
        "request_log_dir": str(tmp_path / "log"),
        "upload_dir": str(tmp_path / "uploads"),
    }
    with bentoml_server(settings, tmp_path, bento=tag, bentoml_home=home) as server:
        model = requests.get(f"{server.url}/model", timeout=10).json()
        assert model["bento_tag"] == packed and model["threshold"] == pytest.approx(0.5)
        with good_video.open("rb") as f:
            resp = requests.post(f"{server.url}/detect", files={"video": ("clip.mp4", f, "video/mp4")}, timeout=120)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["verdict"] in ("real", "fake") and 0 <= answer["p_fake"] <= 1
    assert answer["model"]["bento_tag"] == packed and answer["threshold"] == pytest.approx(0.5)
    (face,) = answer["faces"]
    assert len(face["timeline"]) == 2 and face["face_size"] > 20
    # the code served was the Bento's copy (compiled there), not the checkout's
    name, version = tag.split(":")
    src = home / "bentos" / name / version / "src"
    assert list((src / "serving" / "__pycache__").glob("service.*.pyc"))
    assert list((src / "deepfake_detection" / "scoring" / "__pycache__").glob("analyze.*.pyc"))

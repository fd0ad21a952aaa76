"""`deepfake-detect`: files and folders scored in process as the service scores them; foreign checkpoints imported
through the registry; heatmaps (attention rollout) on request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
import video_factory as vf
import yaml
from tiny_models import TINY_SCRATCH, tiny_detector

from deepfake_detection.config import ClipParams
from deepfake_detection.modeling.explain import rollout, tubelet_relevance
from deepfake_detection.modeling.import_checkpoint import CheckpointError, fake_index

TINY = {**TINY_SCRATCH, "num_hidden_layers": 2}  # two layers: rollout has something to multiply
CLIP_PARAMS = ClipParams(size=64, clips_per_video=2, faces=vf.PHONE_FACES)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deepfake_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=900,
    )


# --- explanation -------------------------------------------------------------------------------------------------


def test_rollout_follows_where_attention_flows():
    n = 6
    to_token_4 = torch.zeros(1, 2, n, n)
    to_token_4[..., 4] = 1.0  # every token attends only to token 4, in both heads and both layers
    relevance = rollout([to_token_4, to_token_4])
    assert relevance.shape == (1, n) and relevance.sum().item() == pytest.approx(1.0)
    assert relevance.argmax().item() == 4 and relevance[0, 4] > 0.7
    uniform = torch.full((1, 2, n, n), 1 / n)
    assert torch.allclose(rollout([uniform, uniform]), torch.full((1, n), 1 / n))
    with pytest.raises(ValueError):
        rollout([])


def test_rollout_equals_the_full_matrix_product():
    """The vector-times-matrix shortcut gives the rows' mean of Abnar & Zuidema's full product."""
    torch.manual_seed(0)
    n, attentions = 10, [torch.softmax(torch.randn(2, 3, 10, 10), -1) for _ in range(4)]
    eye = torch.eye(n).expand(2, n, n)
    joint = eye
    for layer in attentions:
        mixed = 0.5 * eye + 0.5 * layer.mean(dim=1)
        joint = (mixed / mixed.sum(dim=-1, keepdim=True)) @ joint
    assert torch.allclose(rollout(attentions), joint.mean(dim=1), atol=1e-6)


def test_heatmaps_have_the_tubelet_grid_and_leave_the_model_as_it_was():
    detector = tiny_detector(CLIP_PARAMS, layers=2)
    clips = np.random.default_rng(0).integers(0, 255, (3, 16, 64, 64, 3), dtype=np.uint8)
    before = detector.score(clips)
    relevance = detector.explain(clips)
    assert relevance.shape == (3, 8, 4, 4) and relevance.dtype == np.float32  # 16 frames / 2, 64 px / 16
    assert relevance.min() >= 0 and relevance.max() == pytest.approx(1.0)
    assert detector.model.config._attn_implementation == "sdpa"  # eager only while explaining
    assert not any(b.attention.attention._forward_hooks for b in detector.model.videomae.encoder.layer)
    assert np.allclose(detector.score(clips), before)
    assert np.allclose(tubelet_relevance(detector.model, detector.preprocessing, clips), relevance)


# --- the label order of a foreign head -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id2label", "override", "expected"),
    [
        ({0: "FAKE", 1: "REAL"}, None, 0),
        ({"0": "real", "1": "fake"}, None, 1),
        ({0: "Original", 1: "Manipulated"}, None, 1),
        ({0: "LABEL_0", 1: "LABEL_1"}, 1, 1),
        ({i: f"action {i}" for i in range(400)}, None, None),
    ],
)
def test_the_fake_output_is_read_from_id2label(id2label, override, expected):
    assert fake_index(id2label, override) == expected


def test_an_unlabelled_two_output_head_is_refused():
    with pytest.raises(CheckpointError, match="--fake-index"):
        fake_index({0: "LABEL_0", 1: "LABEL_1"})


# --- scoring files and folders -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoring_setup(carphone, small_demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    detector = tiny_detector(CLIP_PARAMS, layers=2)
    model_dir = detector.save(root / "model")
    videos = root / "videos"
    (videos / "nested").mkdir(parents=True)
    vf.write_video(videos / "carphone.mp4", vf.carphone_frames(carphone))
    fake = next(small_demo.glob("manipulated_sequences/*/c23/videos/*.mp4"))
    (videos / "nested" / "demo_fake.mp4").write_bytes(fake.read_bytes())
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"not really a video" * 50)
    settings = root / "serving.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "clips_per_video": 3,
                "faces": vf.PHONE_FACES.model_dump(),
                "request_log_dir": str(root / "log"),
                "upload_dir": str(root / "up"),
            }
        )
    )
    return root, detector, model_dir, videos, settings


@pytest.mark.slow
def test_a_folder_with_a_bad_file_gives_a_row_each_and_reports(scoring_setup):
    root, _, model_dir, videos, settings = scoring_setup
    out_json, out_html = root / "answers.json", root / "report.html"
    proc = run_cli(
        str(videos),
        "--model",
        str(model_dir),
        "--settings",
        str(settings),
        "--json",
        str(out_json),
        "--html",
        str(out_html),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = {Path(a["file"]).name: a for a in json.loads(out_json.read_text())}
    assert set(answers) == {"broken.mp4", "carphone.mp4", "demo_fake.mp4"}
    assert answers["broken.mp4"]["reason"] == "unreadable" and answers["broken.mp4"]["error"]
    assert str(videos) not in answers["broken.mp4"]["error"]  # the service's sentence, not a decoder's message
    for name in ("carphone.mp4", "demo_fake.mp4"):
        a = answers[name]
        assert a["verdict"] in ("real", "fake") and len(a["faces"]) >= 1 and "heatmap_png" not in json.dumps(a)
        assert "not a deepfake detector" in a["model"]["warning"]
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:7] == ["file", "verdict", "p_fake", "persons", "credentials", "assessment", "reasons"]
    assert any("broken.mp4" in line and "error" in line for line in lines)
    assert "[3/3]" in proc.stderr and "WARNING: trained on synthetic demo data" in proc.stderr
    html = out_html.read_text()
    assert html.count("<section>") == 3 and "broken.mp4" in html and "<svg" in html and "<script" not in html


@pytest.mark.slow
def test_the_evidence_of_each_file_is_in_the_table_and_the_json(scoring_setup, carphone, tmp_path):
    """Signed videos (declared AI, camera capture, tampered, garbage in the manifest box, none): each answer
    carries its credentials and assessment, and the table shows them beside the verdict."""
    from c2pa_videos import make_c2pa_videos

    _, _, model_dir, _, settings = scoring_setup
    videos = make_c2pa_videos(tmp_path / "signed", carphone)
    out_json = tmp_path / "answers.json"
    proc = run_cli(*map(str, videos.values()), "--model", str(model_dir), "--settings", str(settings),
                   "--json", str(out_json))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = {Path(a["file"]).stem: a for a in json.loads(out_json.read_text())}
    states = {k: (a["provenance"]["state"], a["assessment"]["label"]) for k, a in answers.items()}
    assert states == {"no_manifest": ("none", "no_conclusion"), "declared_ai": ("valid", "declared_ai_generated"),
                      "ai_edited": ("valid", "declared_ai_edited"), "camera": ("valid", "declared_camera_capture"),
                      "tampered": ("invalid", "credentials_invalid"),
                      "garbage": ("unreadable", "credentials_unreadable")}  # fmt: skip
    assert all(a["assessment"]["detector_verdict"] == a["verdict"] for a in answers.values())  # never changed
    row = next(line for line in proc.stdout.splitlines() if "tampered.mp4" in line)
    assert "invalid" in row and "credentials fail verification" in row


def test_usage_errors_exit_non_zero(tmp_path):
    assert run_cli(str(tmp_path / "missing.mp4")).returncode == 2
    assert run_cli(str(tmp_path)).returncode == 2  # an empty folder: nothing to score
    (video := tmp_path / "v.mp4").write_bytes(b"x")
    for model in ("nonsense", "deepfake-videomae:nope", "bad tag!", str(tmp_path), "version:999"):
        proc = run_cli(str(video), "--model", model)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (model, proc.stderr[-2000:])
        assert any(line.startswith("deepfake-detect: ") for line in proc.stderr.splitlines()), proc.stderr
    assert run_cli("--help").returncode == 0
    for args in (["--json", str(tmp_path / "no" / "a.json")], ["--html", str(tmp_path)],
                 ["--settings", str(tmp_path / "missing.yaml")]):  # fmt: skip
        proc = run_cli(str(video), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (args, proc.stderr[-2000:])
    for text in ("clips_per_video: [unclosed", "bogus_key: 1", "- a list"):
        (settings := tmp_path / "s.yaml").write_text(text)
        proc = run_cli(str(video), "--settings", str(settings))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (text, proc.stderr[-2000:])
        assert "s.yaml" in proc.stderr or "bogus_key" in proc.stderr


@pytest.mark.slow
def test_answers_equal_the_service_and_explain_adds_heatmaps(scoring_setup, tmp_path):
    """The same file and settings: the service's /detect and the command line give the same numbers."""
    from deepfake_detection.registry import export_to_bentoml
    from serving.local_server import bentoml_server

    _, detector, _, videos, settings = scoring_setup
    tag = export_to_bentoml(
        detector,
        "cli parity model",
        {"stage": "production", "zenml_model_version": "3"},
        name="deepfake-videomae-cli-test",
    )
    video = videos / "carphone.mp4"
    proc = run_cli(
        str(video),
        "--model",
        tag,
        "--settings",
        str(settings),
        "--json",
        str(tmp_path / "a.json"),
        "--explain",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (cli,) = json.loads((tmp_path / "a.json").read_text())
    server_settings = {**yaml.safe_load(settings.read_text()), "model_tag": tag}
    with bentoml_server(server_settings, tmp_path) as server, video.open("rb") as f:
        api = requests.post(f"{server.url}/detect", files={"video": ("v.mp4", f, "video/mp4")}, timeout=300).json()
    assert cli["verdict"] == api["verdict"] and cli["p_fake"] == pytest.approx(api["p_fake"], abs=1e-5)
    assert cli["model"] == api["model"]  # name, version, stage, tag, provenance, warning, backend
    assert len(cli["faces"]) == len(api["faces"])
    for mine, theirs in zip(cli["faces"], api["faces"], strict=True):
        assert [s["p_fake"] for s in mine["timeline"]] == pytest.approx(
            [s["p_fake"] for s in theirs["timeline"]], abs=1e-5
        )
        assert [s["boxes"] for s in mine["timeline"]] == [s["boxes"] for s in theirs["timeline"]]
        assert all(len(s["heatmap"]) == 4 and s["heatmap_png"] for s in mine["timeline"])  # 64 px / 16
    assert cli["timings"]["explain_s"] > 0 and "explain_s" not in api["timings"]


# --- bring your own weights ----------------------------------------------------------------------------------------


def write_hub_checkpoint(cache: Path, repo_id: str, id2label: dict) -> Path:
    """A VideoMAE in the Hugging Face hub cache layout (models--org--name/snapshots/<commit>, refs/main)."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    from deepfake_detection.modeling.model import IMAGENET_MEAN, IMAGENET_STD, _processor_class

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    config = VideoMAEConfig(
        num_frames=16,
        image_size=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        **TINY,
    )
    torch.manual_seed(0)
    VideoMAEForVideoClassification(config).save_pretrained(snapshot)
    _processor_class()(
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        size={"shortest_edge": 64},
        crop_size={"height": 64, "width": 64},
    ).save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


@pytest.mark.slow
def test_import_a_hub_checkpoint_with_fake_first(tmp_path, repo_root):
    """A checkpoint whose output 0 is FAKE, from a temporary HF cache by hub id: registered as a new version,
    evaluated on the latest clip dataset's test split, staged or promoted by the gate, its p(fake) unchanged."""
    from synthetic_clips import make_clip_dataset
    from transformers import VideoMAEForVideoClassification
    from zenml import save_artifact
    from zenml.client import Client

    from deepfake_detection.modeling.model import Preprocessing
    from steps.materializers import ClipDatasetMaterializer

    dataset = make_clip_dataset(tmp_path / "clips", n_per_class=12, size=64, shift=40, light=0.0)
    save_artifact(dataset, name="clip_dataset", materializer=ClipDatasetMaterializer)
    snapshot = write_hub_checkpoint(tmp_path / "hub", "test-org/tiny-videomae-df", {0: "FAKE", 1: "REAL"})
    config = tmp_path / "import.yaml"
    config.write_text(
        yaml.safe_dump(
            {"parameters": {"config": {"fast_path": {"precision": "none"}, "report_dir": str(tmp_path / "reports")}}}
        )
    )
    env = {
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "PYTHONPATH": str(repo_root),
    }
    proc = run_cli("import", "test-org/tiny-videomae-df", "--config", str(config), env=env, cwd=repo_root)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "imported test-org/tiny-videomae-df (fake = output 0 of its head)" in proc.stdout

    version = Client().get_model_version("deepfake-videomae")
    decision = version.run_metadata["promotion"]
    assert version.stage == ("production" if decision["promoted"] else "staging") and decision["reasons"]
    assert version.run_metadata["training"]["imported_fake_index"] == 0
    assert 0 <= version.run_metadata["test_clip"]["auc"] <= 1
    imported = version.get_artifact("detector").load()
    original = VideoMAEForVideoClassification.from_pretrained(snapshot).eval()
    clips = np.stack([dataset.load_clip(p) for p in dataset.table.clip_path[:4]])
    with torch.no_grad():
        logits = original(pixel_values=Preprocessing.from_processor(imported.processor)(clips)).logits
    assert np.allclose(imported.score(clips), torch.softmax(logits, -1)[:, 0].numpy(), atol=1e-5)
    assert imported.model.config.id2label == {0: "real", 1: "fake"}

    unlabelled = write_hub_checkpoint(tmp_path / "hub", "test-org/unlabelled", {0: "LABEL_0", 1: "LABEL_1"})
    proc = run_cli("import", str(unlabelled), "--config", str(config), env=env, cwd=repo_root)
    assert proc.returncode == 2 and "--fake-index" in proc.stderr


def test_a_run_whose_inputs_are_missing_stops_with_one_line(tmp_path):
    """A checkpoint not in the offline cache, an FF++ root or cross-evaluation sets not on disk: one line that
    names what is missing, where it looked and how to get it, before any work."""
    hub = tmp_path / "empty_hub"
    cases = {
        "train": ({"train": {"model": {"checkpoint": "MCG-NJU/videomae-base-finetuned-kinetics"}}},
                  ["MCG-NJU/videomae-base-finetuned-kinetics", str(hub), "huggingface-cli download"]),
        "data": ({"ffpp_root": str(tmp_path / "nowhere")}, [str(tmp_path / "nowhere"), "download"]),
        "cross-eval": ({"test_sets": [{"name": "Celeb-DF-v2", "adapter": "celebdf", "root": str(tmp_path / "cdf")}]},
                       ["Celeb-DF-v2 at", str(tmp_path / "cdf")]),
        "train ": ({"train": {"model": {"scratch": {"hiden_size": 8}}}}, ["did you mean 'hidden_size'"]),
    }  # fmt: skip
    for pipeline, (config, words) in cases.items():
        (path := tmp_path / f"{pipeline.strip()}.yaml").write_text(yaml.safe_dump({"parameters": {"config": config}}))
        proc = run_cli("run", pipeline.strip(), "-c", str(path), env={"HF_HUB_CACHE": str(hub)})
        assert proc.returncode == 2, (pipeline, proc.stderr[-2000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, (pipeline, proc.stderr[-2000:])
        assert all(w in lines[0] for w in words) and str(path) in lines[0], (pipeline, lines[0])


def test_a_run_without_its_config_says_so():
    """Every pipeline but monitoring needs its run config: without -c, one line, not a run on the wrong config."""
    for pipeline in ("data", "feedback", "continuous-training"):
        proc = run_cli("run", pipeline)
        assert proc.returncode == 2 and "give its run config with -c" in proc.stderr, (pipeline, proc.stderr[-2000:])

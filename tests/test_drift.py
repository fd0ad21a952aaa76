"""Drift features on real videos, Evidently drift decisions, bad inputs, the monitoring pipeline and the dashboard."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pytest
import requests
from browser import ARTIFACTS, CHROMIUM, chromium_page
from zenml import pipeline, step

from deepfake_detection.datasets.demo import write_video
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.monitoring.drift import (
    DEFAULT_COLUMNS,
    DriftInputError,
    MonitoringConfig,
    add_to_workspace,
    run_drift_report,
)
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS, video_features
from serving.local_server import free_port


def reencode(frames: np.ndarray, path: Path, crf: int, scale: float = 1.0) -> Path:
    write_video(path, frames, crf=crf, scale=scale)
    return path


def test_features_order_compression_on_real_ffpp_videos(ffpp_sample, tmp_path):
    """Re-encodings of a real FF++ c23 video: heavier compression -> more blockiness, smaller -> fewer pixels."""
    source = min(ffpp_sample.glob("original_sequences/youtube/c23/videos/*.mp4"), key=lambda p: p.stat().st_size)
    frames = VideoReader(source).get(range(48))
    feats = {crf: video_features(reencode(frames, tmp_path / f"crf{crf}.mp4", crf)) for crf in (23, 32, 40, 45)}
    blockiness = [feats[c]["blockiness"] for c in (23, 32, 40, 45)]
    assert blockiness == sorted(blockiness) and blockiness[-1] > blockiness[0] + 0.05, blockiness
    bitrates = [feats[c]["bitrate"] for c in (23, 32, 40, 45)]
    assert bitrates == sorted(bitrates, reverse=True)
    small = video_features(reencode(frames, tmp_path / "half.mp4", 40, scale=0.5))
    assert small["pixels"] * 4 == pytest.approx(feats[40]["pixels"], rel=0.02)
    assert small["sharpness"] != feats[40]["sharpness"] and set(small) == set(FEATURE_COLUMNS)


def test_compression_estimate_separates_crf_23_from_40(carphone, tmp_path):
    """The same real face at CRF 23 and 40 (as FF++ c23/c40 were made), over several clips of the video."""
    frames = VideoReader(carphone).get(range(96))
    for i, start in enumerate((0, 24, 48)):
        part = frames[start : start + 48]
        c23 = video_features(reencode(part, tmp_path / f"{i}_23.mp4", 23), face_size=80.0)
        c40 = video_features(reencode(part, tmp_path / f"{i}_40.mp4", 40))
        assert c40["blockiness"] > c23["blockiness"] + 0.1, (c23["blockiness"], c40["blockiness"])
        assert c40["bits_per_pixel"] < c23["bits_per_pixel"] and c23["face_size"] == 80.0


@pytest.fixture(scope="module")
def feature_tables(carphone, tmp_path_factory):
    """Reference: 30 real-face clips like training videos; shifted: 12 of them at half size and CRF 45."""
    folder = tmp_path_factory.mktemp("drift_videos")
    frames = VideoReader(carphone).get(range(120))
    rng = np.random.default_rng(0)
    reference, shifted = [], []
    for i in range(30):
        start = int(rng.integers(0, 120 - 32))
        crf = int(rng.choice([21, 23, 25]))
        reference.append(video_features(reencode(frames[start : start + 32], folder / f"r{i}.mp4", crf), 60 + i % 5))
        if i < 12:
            path = reencode(frames[start : start + 32], folder / f"s{i}.mp4", 45, scale=0.5)
            shifted.append(video_features(path, 30 + i % 5))
    return pd.DataFrame(reference), pd.DataFrame(shifted)


@pytest.mark.parametrize("clips_per_video", [8, 3])
def test_upload_features_from_decoded_frames_equal_the_file_based_ones(carphone, clips_per_video):
    """The service measures quality on frames it decoded for clips; the training reference reads the file. The
    same windows give the same frames and the same numbers, whatever the number of windows."""
    from hard_inputs import HARD

    from deepfake_detection.config import ClipParams
    from deepfake_detection.scoring.analyze import extract_video

    for path in (carphone, HARD / "04_av1_opus.webm", HARD / "01_rotation_display_matrix.mp4"):
        extracted = extract_video(path, ClipParams(clips_per_video=clips_per_video), with_features=True)
        from_file = video_features(path, extracted.features["face_size"], ClipParams(clips_per_video=clips_per_video))
        assert extracted.features.keys() == from_file.keys() == set(FEATURE_COLUMNS)
        for key, value in from_file.items():
            expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-9, nan_ok=True)
            assert extracted.features[key] == expected, (path.name, key)


def test_drift_detected_for_downscaled_recompressed_traffic(feature_tables):
    reference, shifted = feature_tables
    _, summary = run_drift_report(reference, shifted, DEFAULT_COLUMNS)
    assert {"width", "height", "pixels"} <= set(summary.resolution_drifted)
    assert "blockiness" in summary.compression_drifted and summary.drifted
    assert summary.current_rows == 12 and summary.reference_rows == 30 and summary.drift_share > 0.3


def test_no_drift_for_traffic_resampled_from_the_reference(feature_tables):
    """False alarms over 10 seeded draws of 12 rows from the reference: 1 allowed.

    Measured over 50 seeded draws: 1 resolution/compression alarm (2%), 2 draws with any column drifted.
    """
    reference, _ = feature_tables
    alarms = []
    for seed in range(10):
        current = reference.sample(12, replace=True, random_state=seed)
        _, summary = run_drift_report(reference, current, DEFAULT_COLUMNS)
        alarms.append(summary.drifted)
    assert sum(alarms) <= 1, alarms


def test_bad_monitoring_input_is_explained(feature_tables):
    reference, shifted = feature_tables
    with pytest.raises(DriftInputError, match="current window is empty"):
        run_drift_report(reference, shifted.iloc[:0], DEFAULT_COLUMNS)
    with pytest.raises(DriftInputError, match=r"current data lacks the monitored columns \['blockiness', 'codec'\]"):
        run_drift_report(reference, shifted.drop(columns=["blockiness", "codec"]), DEFAULT_COLUMNS)


def test_dashboard_lists_the_project_and_its_runs(feature_tables, tmp_path):
    """A real `evidently ui` on loopback over a workspace holding two monitoring runs."""
    reference, shifted = feature_tables
    workspace = tmp_path / "workspace"
    for name, current in (("matching", reference.sample(12, random_state=0)), ("shifted", shifted)):
        snapshot, _ = run_drift_report(reference, current, DEFAULT_COLUMNS)
        project_id = add_to_workspace(snapshot, workspace, "drift test", DEFAULT_COLUMNS, name)
    port = free_port()
    evidently = Path(sys.executable).parent / "evidently"
    proc = subprocess.Popen([str(evidently), "ui", "--workspace", str(workspace), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                projects = requests.get(f"{url}/api/projects/", timeout=2)
                if projects.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        assert [p["name"] for p in projects.json()] == ["drift test"]
        assert projects.json()[0]["id"] == project_id
        runs = requests.get(f"{url}/api/projects/{project_id}/snapshots", timeout=10).json()
        assert sorted(r["name"] for r in runs) == ["matching", "shifted"]
        dashboard = requests.get(f"{url}/api/v2/dashboards/{project_id}", timeout=10)
        assert dashboard.status_code == 200 and "Share of drifted columns" in dashboard.text
        assert "blockiness: drift test" in dashboard.text
        if CHROMIUM.exists():  # what people look at: the rendered dashboard, kept as an artifact
            page_text = _screenshot(f"{url}/projects/{project_id}", ARTIFACTS / "drift_dashboard.png")
            assert "Share of drifted columns" in page_text
    finally:
        proc.terminate()
        proc.wait(20)


def _screenshot(url: str, path: Path) -> str:
    with chromium_page(1400, 1600) as page:
        page.goto(url)
        page.wait_for_selector("text=Share of drifted columns", timeout=60_000)
        page.wait_for_timeout(2000)  # let the plots draw
        page.screenshot(path=str(path))
        return page.inner_text("body")


@step
def publish_reference(path: str) -> Annotated[pd.DataFrame, "drift_reference"]:
    return pd.read_parquet(path)


@pipeline(enable_cache=False)
def register_reference(path: str):
    """Stands in for the training pipeline: links a drift reference to a model version."""
    publish_reference(path)


def test_monitoring_pipeline_on_a_real_zenml_store(feature_tables, tmp_path):
    """Reference linked to a production model version, current from a request log, Evidently, verdict."""
    from zenml import Model
    from zenml.client import Client

    from deepfake_detection.monitoring.request_log import RequestLog
    from pipelines.monitoring_pipeline import monitoring_pipeline

    reference, shifted = feature_tables
    name = "deepfake-videomae-monitoring-test"
    reference.to_parquet(tmp_path / "reference.parquet")
    register_reference.with_options(model=Model(name=name))(str(tmp_path / "reference.parquet"))
    version = Client().get_model_version(name, "latest")
    Client().update_model_version(name, version.id, stage="production", force=True)
    log = RequestLog(tmp_path / "log")
    for row in shifted.to_dict("records"):
        log.append({"request_id": "r", "model_version": "1", "verdict": "real", "p_fake": 0.1, **row})
    config = MonitoringConfig(model_name=name, request_log_dir=str(tmp_path / "log"), workspace=str(tmp_path / "ws"),
                              reports_dir=str(tmp_path / "reports"), run_name="test")  # fmt: skip
    run = monitoring_pipeline.with_options(enable_cache=False)(config)
    run = Client().get_pipeline_run(run.id)
    assert str(run.status) == "completed"
    assert run.steps["drift_verdict"].outputs["drifted"][0].load() is True
    assert list((tmp_path / "reports").glob("drift_*_test.html"))
    with pytest.raises(RuntimeError):  # the same drift with fail_on_drift stops the pipeline
        monitoring_pipeline.with_options(enable_cache=False)(config.model_copy(update={"fail_on_drift": True}))


def test_features_of_frames_with_nothing_to_measure_are_nan_without_warnings(tmp_path):
    """A picture with no edges to measure blockiness by (a black video; found by a fresh-clone check) has NaN
    blockiness, said without numpy's "Mean of empty slice" warning in the service's log for every such upload."""
    import warnings

    from deepfake_detection.config import ClipParams
    from deepfake_detection.scoring.analyze import extract_video

    write_video(black := tmp_path / "black.mp4", np.zeros((40, 240, 320, 3), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        extracted = extract_video(black, ClipParams(clips_per_video=2), with_features=True)
    assert np.isnan(extracted.features["blockiness"]) and not extracted.clips

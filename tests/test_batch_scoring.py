"""Batch scoring on Ray: one row per video, equal to `analyze_video`, bad files as error rows; the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import video_factory as vf
from tiny_models import tiny_detector

from deepfake_detection.config import ClipParams
from deepfake_detection.media.probe import VideoLimits
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.scoring.analyze import analyze_video
from deepfake_detection.scoring.batch import list_videos, score_videos

PARAMS = ClipParams(size=64, clips_per_video=3, faces=vf.PHONE_FACES)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return tiny_detector(PARAMS).save(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory, carphone):
    folder = tmp_path_factory.mktemp("videos")
    vf.write_video(folder / "a_carphone.mp4", vf.carphone_frames(carphone))
    vf.two_faces(folder, carphone)
    vf.no_face(folder)
    vf.text_file(folder)  # notes.mp4: not a video
    vf.write_video(folder / "short.mp4", vf.carphone_frames(carphone, 8))
    return folder


def test_batch_rows_equal_analyze_video_and_bad_files_are_rows(model_folder, videos, ray_local):
    paths = list_videos(videos)
    assert [os.path.basename(p) for p in paths] == ["a_carphone.mp4", "noise.mp4", "notes.mp4", "short.mp4",
                                                    "two_faces.mp4"]  # fmt: skip
    table = score_videos(paths, str(model_folder), PARAMS, VideoLimits(), {"model": "test", "version": "1"})
    assert table["path"].tolist() == paths
    by_name = {os.path.basename(r.path): r for r in table.itertuples()}
    bad = by_name["notes.mp4"]
    assert bad.verdict is None and bad.error_reason == "not_a_video" and "not a video file" in bad.error  # the door's
    assert str(videos) not in bad.error  # the same sentence the service gives: no path
    noise = by_name["noise.mp4"]
    assert noise.verdict == "inconclusive" and json.loads(noise.reason_codes) == ["no_face"]
    assert json.loads(noise.reasons) == ["No face was found in 3 of 3 clip windows."]
    assert json.loads(by_name["short.mp4"].reason_codes) == ["too_short"]
    detector = Detector.load(model_folder)
    for name in ("a_carphone.mp4", "two_faces.mp4"):
        row, local = by_name[name], analyze_video(videos / name, detector, PARAMS)
        assert row.verdict == local.verdict and row.p_fake == pytest.approx(local.p_fake, abs=1e-6)
        assert row.persons == len(local.faces) == row.persons_seen and row.model_version == "1"
        assert (row.width, row.height, row.frames_lost) == (local.video.width, local.video.height, 0)
        faces = json.loads(row.faces)
        assert [s["p_fake"] for s in faces[0]["timeline"]] == pytest.approx(
            [s.p_fake for s in local.faces[0].timeline], abs=1e-6)  # fmt: skip
        assert np.isfinite(json.loads(row.clip_scores)).all() and "model_s" in json.loads(row.timings)
        # the tiny model is marked trained on synthetic data: every row says so, and concludes nothing from it
        assert "not a deepfake detector" in row.model_warning and row.assessment == "no_conclusion"


@pytest.mark.slow
def test_the_batch_scoring_pipeline_writes_one_row_per_video(model_folder, videos, repo_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    cmd = [sys.executable, "-m", "pipelines.batch_scoring_pipeline", "--videos", str(videos), "--model",
           str(model_folder)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "score: 5/5 (100%)" in proc.stdout + proc.stderr  # progress is shown

    from zenml.client import Client

    run = Client().get_pipeline("deepfake_batch_scoring").last_run
    table = run.steps["score_batch"].outputs["batch_scores"][0].load()
    assert len(table) == 5 and table["error_reason"].notna().sum() == 1
    assert (repo_root / ".cache" / "reports" / "batch" / f"{run.name}.parquet").is_file()

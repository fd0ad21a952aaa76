"""The challenger in shadow on a real FastAPI app: scores logged beside production's after the answer has left,
a full queue drops (and counts) instead of waiting, a missing challenger never breaks the answers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from tiny_models import tiny_detector

from deepfake_detection.config import ClipParams
from deepfake_detection.feedback.shadow_log import ShadowLog, read_with_shadow
from deepfake_detection.metrics.video_rule import video_scores
from deepfake_detection.monitoring.request_log import RequestLog
from deepfake_detection.service_settings import ServiceSettings
from serving.shadow import ShadowScorer

PARAMS = ClipParams(size=32, clips_per_video=3)
CLIPS = np.random.default_rng(0).integers(0, 256, (3, 16, 32, 32, 3), dtype=np.uint8)
FACES = [0, 1, 1]  # three clips of two persons


def answering_app(shadow: ShadowScorer, log: RequestLog) -> FastAPI:
    """What /detect does around its answer: log the request, answer, hand the clips to the challenger after."""
    app = FastAPI()

    @app.post("/answer/{request_id}")
    def answer(request_id: str) -> JSONResponse:
        log.append({"request_id": request_id, "model_version": "1", "verdict": "real", "p_fake": 0.3})
        task = shadow.after_answer(request_id, CLIPS, FACES, "1", 0.3)
        return JSONResponse({"request_id": request_id, "verdict": "real"}, background=task)

    return app


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


class PausedDetector:
    """A real detector whose scoring waits until released: it keeps the challenger busy on purpose."""

    def __init__(self, detector) -> None:
        self.detector, self.release, self.threshold, self.backend = detector, threading.Event(), 0.5, "torch-fp32"

    def score(self, clips):
        self.release.wait(60)
        return self.detector.score(clips)


def test_shadow_scores_are_logged_beside_production(tmp_path):
    challenger = tiny_detector(PARAMS, threshold=0.4)
    log = RequestLog(tmp_path)
    shadow = ShadowScorer("version:9", str(tmp_path), loader=lambda: (challenger, "9")).start()
    wait_for(lambda: shadow.ready)
    client = TestClient(answering_app(shadow, log))
    for i in range(3):
        assert client.post(f"/answer/q{i}").status_code == 200
    wait_for(lambda: shadow.stats()["scored"] == 3)
    shadow.close()
    table = read_with_shadow(tmp_path)
    per_clip = challenger.score(CLIPS)
    expected = float(video_scores(pd.DataFrame({"video_id": "v", "face_index": FACES, "p_fake": per_clip,
                                                "is_fake": 0})).p_fake.iloc[0])  # fmt: skip
    assert expected == pytest.approx(max(per_clip[0], per_clip[1:].mean()))  # mean per person, max over persons
    assert list(table.request_id) == ["q0", "q1", "q2"]
    assert table.shadow_p_fake.tolist() == pytest.approx([expected] * 3, abs=1e-6)
    assert (table.shadow_model_version == "9").all() and (table.p_fake == 0.3).all()  # production's beside it
    assert set(table.shadow_verdict) == {"fake" if expected >= 0.4 else "real"}
    rows = ShadowLog(tmp_path).read()
    assert (rows.production_version == "1").all() and (rows.clips == 3).all() and (rows.seconds > 0).all()
    assert shadow.stats()["dropped_full"] == 0


def test_full_queue_drops_and_counts_without_delaying_answers(tmp_path):
    paused = PausedDetector(tiny_detector(PARAMS))
    shadow = ShadowScorer("staging", str(tmp_path), queue_size=2, loader=lambda: (paused, "5")).start()
    wait_for(lambda: shadow.ready)
    client = TestClient(answering_app(shadow, RequestLog(tmp_path)))
    seconds = []
    for i in range(7):
        t0 = time.monotonic()
        assert client.post(f"/answer/r{i}").status_code == 200
        seconds.append(time.monotonic() - t0)
        if i == 0:
            wait_for(lambda: shadow.queue.qsize() == 0)  # the challenger took the first and is stuck on it
    stats = shadow.stats()
    assert max(seconds) < 2.0, seconds  # the challenger is blocked; the answers are not
    assert (stats["queued"], stats["dropped_full"], stats["waiting"], stats["scored"]) == (3, 4, 2, 0)
    paused.release.set()
    wait_for(lambda: shadow.stats()["scored"] == 3)
    shadow.close()
    assert list(ShadowLog(tmp_path).read().request_id) == ["r0", "r1", "r2"]  # the dropped ones were never scored


def test_a_missing_challenger_never_breaks_answers(tmp_path):
    def missing():
        raise LookupError("no staging version of deepfake-videomae to run in shadow")

    shadow = ShadowScorer("staging", str(tmp_path), loader=missing).start()
    wait_for(lambda: shadow.stats()["error"] is not None)
    client = TestClient(answering_app(shadow, RequestLog(tmp_path)))
    assert client.post("/answer/x").status_code == 200
    stats = shadow.stats()
    assert stats["dropped_not_ready"] == 1 and "no staging version" in stats["error"] and not stats["ready"]
    assert ShadowLog(tmp_path).read().empty
    with pytest.raises(ValueError):
        ShadowScorer("off", str(tmp_path))


def test_shadow_setting_is_validated():
    assert ServiceSettings().shadow == "off" and ServiceSettings(shadow="version:12").shadow == "version:12"
    for bad in ("v12", "version:", "production", "staging2"):
        with pytest.raises(ValueError):
            ServiceSettings(shadow=bad)

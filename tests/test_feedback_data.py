"""Retained clips (retention and purge), the reviewed dataset (label rule, time split, GX contract), online
evaluation and the continuous-training decisions, on real files, a real SQLite store and real detectors."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from tiny_models import tiny_detector

from deepfake_detection.config import ClipParams
from deepfake_detection.data.clip_store import load_clip
from deepfake_detection.data.clips import Clip
from deepfake_detection.feedback.config import GateParams, Triggers
from deepfake_detection.feedback.continuous_training import (
    REVIEWED_PREFIX,
    RetrainingSignals,
    decide_candidate,
    decide_retraining,
    shadow_check,
    training_mix,
)
from deepfake_detection.feedback.online_evaluation import classification_snapshot, evaluate_models
from deepfake_detection.feedback.retention import DAY_S, forget, purge_expired, retain_clips, retained_table
from deepfake_detection.feedback.reviewed_dataset import build_reviewed_dataset, validate_reviewed
from deepfake_detection.feedback.reviews import ReviewStore, submit_review
from deepfake_detection.monitoring.request_log import RequestLog

PARAMS = ClipParams(size=32, clips_per_video=2)


def fake_clips(n: int, seed: int) -> list[Clip]:
    """Face clips as the service cuts them (random pixels: these tests check bookkeeping, not skill)."""
    rng = np.random.default_rng(seed)
    return [Clip(clip_index=k, face_index=0, start_frame=16 * k, frame_indices=list(range(16 * k, 16 * k + 16)),
                 crop_boxes=[(4, 4, 40, 40)] * 16, face_size=36.0, hit_rate=1.0, start_s=0.64 * k,
                 end_s=0.64 * (k + 1), pixels=rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8))
            for k in range(n)]  # fmt: skip


@pytest.fixture
def traffic(tmp_path):
    """A request log of 10 answered requests, their retained clips, and a review store."""
    log = RequestLog(tmp_path / "log")
    for i in range(10):
        log.append({"request_id": f"r{i}", "model_name": "deepfake-videomae", "model_version": "1", "verdict": "real",
                    "p_fake": 0.2, "width": 640.0, "height": 360.0, "codec": "h264"})  # fmt: skip
        retain_clips(tmp_path / "clips", PARAMS, f"r{i}", fake_clips(2, i), days=30, model_version="1")
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    return tmp_path, log, store


def review(store, root, request_id, label, reviewer="ann", source="api"):
    time.sleep(0.002)  # distinct review times: the split is by time
    return submit_review(store, [root / "log"], request_id, label, reviewer, source=source)


def test_retained_clips_round_trip_and_purge_only_expired(tmp_path):
    now = time.time()
    for i, days in enumerate([1, 10, 0.5]):
        retain_clips(tmp_path, PARAMS, f"req{i}", fake_clips(2, i), days=days, model_version="3", now=now)
    assert retain_clips(tmp_path, PARAMS, "noface", [], days=1) is None  # no face: nothing kept
    (tmp_path / "other").mkdir()  # a training clip store's video (no retention mark) beside them is never touched
    (tmp_path / "other" / "v1").mkdir()
    (tmp_path / "other" / "v1" / "manifest.json").write_text('{"clips": []}')
    table = retained_table(tmp_path)
    assert sorted(table.request_id.unique()) == ["req0", "req1", "req2"] and table.clip_file_present.all()
    assert table.clip_path.str.startswith(PARAMS.cache_key()).all()
    assert load_clip(tmp_path, table.clip_path[0]).shape == (16, 32, 32, 3)
    report = purge_expired(tmp_path, now=now + 2 * DAY_S)
    assert sorted(report.deleted) == ["req0", "req2"] and report.kept == 1
    assert sorted(retained_table(tmp_path).request_id.unique()) == ["req1"]
    assert (tmp_path / "other" / "v1" / "manifest.json").exists()
    assert forget(tmp_path, "req1") == 1 and retained_table(tmp_path).empty
    with pytest.raises(ValueError):
        forget(tmp_path, "*")  # a request id, never a pattern


def test_purge_removes_interrupted_writes_after_the_grace_period(tmp_path):
    retain_clips(tmp_path, PARAMS, "done", fake_clips(1, 0), days=5)
    partial = tmp_path / PARAMS.cache_key() / "partial"
    partial.mkdir()
    (partial / "clip_000_face_0.jpeg").write_bytes(b"x")  # clips written, manifest never (the process died)
    assert purge_expired(tmp_path).orphans == 0  # it may still be being written
    report = purge_expired(tmp_path, now=time.time() + 7200)
    assert report.orphans == 1 and not partial.exists() and report.kept == 1


def test_purge_command_deletes_expired_clips(tmp_path, repo_root):
    retain_clips(tmp_path / "clips", PARAMS, "old", fake_clips(1, 0), days=1, now=time.time() - 2 * DAY_S)
    retain_clips(tmp_path / "clips", PARAMS, "new", fake_clips(1, 1), days=1)
    settings = tmp_path / "serving.yaml"
    settings.write_text(yaml.safe_dump({"retention": {"enabled": True, "clip_store": str(tmp_path / "clips")}}))
    cli = [sys.executable, "-m", "deepfake_cli"]
    out = subprocess.run([*cli, "purge-clips", "--settings", str(settings), "--verbose"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "deleted the clips of 1 expired requests, kept 1" in out.stdout and "old" in out.stdout
    assert list(retained_table(tmp_path / "clips").request_id) == ["new"]


def test_label_rule_split_by_time_and_exclusions(traffic):
    root, log, store = traffic
    for i in range(8):
        review(store, root, f"r{i}", "confirmed_fake" if i % 2 else "actually_real")
    review(store, root, "r1", "actually_real", reviewer="bob")  # r1: 1 fake vs 1 real -> disputed
    review(store, root, "r2", "confirmed_fake", reviewer="bob")
    review(store, root, "r2", "actually_real", reviewer="bob")  # bob corrects himself: only his latest counts
    review(store, root, "r8", "unsure")  # only unsure -> excluded
    review(store, root, "r9", "confirmed_fake", reviewer="cy")
    forget(root / "clips", "r9")  # labelled, but its clips are gone -> excluded
    dataset = build_reviewed_dataset(store.table(), log.read(), retained_table(root / "clips"), str(root / "clips"),
                                     holdout_fraction=0.3)  # fmt: skip
    r = dataset.requests.set_index("request_id")
    assert sorted(r.index) == ["r0", "r2", "r3", "r4", "r5", "r6", "r7"]
    assert r.loc["r2", "review_label"] == "actually_real" and r.loc["r2", "votes"] == 2  # ann + bob's latest
    reasons = dict(zip(dataset.excluded.request_id, dataset.excluded.reason, strict=True))
    assert reasons["r1"].startswith("disputed") and reasons["r8"] == "only unsure reviews"
    assert reasons["r9"].startswith("no retained clips")
    # the newest 30 % (3 of 7) by decision time are held out, and nothing older is
    assert r.split.value_counts().to_dict() == {"train": 4, "holdout": 3}
    assert r[r.split == "train"].decided_at.max() < r[r.split == "holdout"].decided_at.min() == dataset.holdout_since
    assert (r.n_clips == 2).all() and (r.clips_missing == 0).all() and r.width.eq(640.0).all()  # log row joined
    assert len(dataset.clips) == 14 and set(dataset.split("holdout").request_id) == set(r[r.split == "holdout"].index)
    report = validate_reviewed(dataset)
    assert report.success, report.summary()


def test_contract_fails_on_a_bad_label_and_on_missing_clips(traffic):
    root, log, store = traffic
    for i in range(4):
        review(store, root, f"r{i}", "confirmed_fake" if i % 2 else "actually_real")
    with store.engine.begin() as db:  # a row the API would refuse (written around it, e.g. by an old tool)
        db.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        db.exec_driver_sql("UPDATE reviews SET label = 'probably_fake' WHERE request_id = 'r0'")
    retained = retained_table(root / "clips")
    (root / "clips" / retained.clip_path[retained.request_id == "r1"].iloc[0]).unlink()  # a clip file lost
    dataset = build_reviewed_dataset(store.table(), log.read(), retained_table(root / "clips"), str(root / "clips"))
    report = validate_reviewed(dataset)
    assert not report.success
    failures = " ".join(f for res in report.results for f in res.failures)
    assert "expect_column_values_to_be_in_set [label]" in failures and "probably_fake" in failures
    assert "expect_column_values_to_be_in_set [review_label]" in failures
    assert "expect_column_values_to_be_between [clips_missing]" in failures


def test_online_evaluation_and_evidently_report(traffic):
    root, log, store = traffic
    for i in range(10):
        review(store, root, f"r{i}", "confirmed_fake" if i % 2 else "actually_real")
    dataset = build_reviewed_dataset(store.table(), log.read(), retained_table(root / "clips"), str(root / "clips"))
    production, staging = tiny_detector(PARAMS), tiny_detector(PARAMS, threshold=0.0)
    table, scored = evaluate_models({"production": (production, "1"), "staging": (staging, "2")}, dataset, n_boot=50)
    rows = table.set_index(["model", "split"])
    assert rows.loc[("production", "all"), ["requests", "confirmed_fake", "actually_real"]].tolist() == [10, 5, 5]
    assert rows.loc[("production", "holdout"), "requests"] == 3
    # threshold 0: everything is called fake -> recall 1, precision = the share of fakes
    assert rows.loc[("staging", "all"), "recall"] == 1.0 and rows.loc[("staging", "all"), "precision"] == 0.5
    assert 0 <= rows.loc[("production", "all"), "video_auc"] <= 1
    assert rows.loc[("production", "all"), "auc_ci_low"] <= rows.loc[("production", "all"), "video_auc"]
    expected = production.score(np.stack([dataset.load_clip(p) for p in dataset.split().clip_path]))
    own = dataset.split().assign(p=expected).groupby("request_id").p.mean()  # one person: the mean of its clips
    assert scored["production"].set_index("request_id").p_fake.to_dict() == pytest.approx(own.to_dict(), abs=1e-5)
    # the logged p_fake (0.2) against today's score of the same clips, for the version that answered
    assert rows.loc[("production", "all"), "live_offline_max_diff"] == pytest.approx((own - 0.2).abs().max())
    assert np.isnan(rows.loc[("staging", "all"), "live_offline_max_diff"])  # version 2 answered nothing
    metrics = {m["config"]["type"].rsplit(":", 1)[-1]: m["value"]
               for m in classification_snapshot(scored["production"], 0.5).dict()["metrics"]}  # fmt: skip
    assert metrics["RocAuc"] == pytest.approx(rows.loc[("production", "all"), "video_auc"])


def _signals(**overrides) -> RetrainingSignals:
    base = {"production_version": "3", "production_created": 1.0, "drift_headline": "no drift", "drift_alarmed": False,
            "drift_model_version": "3", "reviewed_dataset": "a", "reviewed_requests": 10,
            "reviewed_train_requests": 7, "reviewed_contracts_passed": True, "new_reviews": 4}  # fmt: skip
    return RetrainingSignals(**{**base, **overrides})


def test_retraining_decision_says_why():
    triggers = Triggers(min_new_reviews=5)
    quiet = decide_retraining(_signals(), triggers)
    assert not quiet.retrain and "no drift alarmed" in quiet.reasons[0] and "fewer than 5" in quiet.reasons[0]
    drift = decide_retraining(_signals(drift_alarmed=True, drift_headline="resolution drifted (width)"), triggers)
    assert drift.retrain and drift.reasons[0].startswith("drift alarmed for production version 3")
    assert decide_retraining(_signals(new_reviews=5), triggers).retrain
    stale = decide_retraining(_signals(drift_alarmed=True, drift_model_version="2"), triggers)  # an old verdict
    assert not stale.retrain and "version 2, not production version 3" in stale.reasons[0]
    nothing = decide_retraining(_signals(new_reviews=9, reviewed_train_requests=0), triggers)
    assert not nothing.retrain and "would retrain" in nothing.reasons[0] and "no request in its train split" in (
        nothing.reasons[0])  # fmt: skip
    assert not decide_retraining(_signals(new_reviews=9, reviewed_contracts_passed=False), triggers).retrain
    assert not decide_retraining(_signals(new_reviews=9, production_version=None), triggers).retrain


def test_gate_needs_not_worse_on_test_holdout_and_shadow():
    gate = GateParams(max_test_auc_drop=0.01, shadow_min_requests=2)
    ok = decide_candidate(gate, True, 0.95, 0.955, {"requests": 5, "video_auc": 0.9}, {"video_auc": 0.8}, {})
    assert ok.promoted and ok.stage == "production" and ok.holdout_metric == "video_auc"
    worse = decide_candidate(gate, True, 0.90, 0.955, {"requests": 5, "video_auc": 0.7}, {"video_auc": 0.8}, {})
    assert not worse.promoted and len([r for r in worse.reasons if "worse than production" in r]) == 2
    one_class = decide_candidate(gate, True, 0.95, 0.95, {"requests": 3, "video_auc": float("nan"), "accuracy": 1.0},
                                 {"video_auc": float("nan"), "accuracy": 2 / 3}, {})  # fmt: skip
    assert one_class.promoted and one_class.holdout_metric == "accuracy"
    shadow = {"version": "4", "reviewed_requests": 3, "candidate_accuracy": 0.33, "production_accuracy": 1.0}
    assert not decide_candidate(gate, True, 0.95, 0.95, {"requests": 5, "video_auc": 0.9}, {"video_auc": 0.8},
                                shadow).promoted  # fmt: skip
    assert not decide_candidate(gate, False, 0.95, 0.95, {"requests": 5, "video_auc": 0.9}, {"video_auc": 0.8},
                                {}).promoted  # fmt: skip


def test_training_mix_adds_only_train_requests_and_shadow_check(traffic, tmp_path):
    from synthetic_clips import make_clip_dataset

    root, log, store = traffic
    for i in range(10):
        review(store, root, f"r{i}", "confirmed_fake" if i % 2 else "actually_real")
    reviewed = build_reviewed_dataset(store.table(), log.read(), retained_table(root / "clips"), str(root / "clips"))
    data = make_clip_dataset(tmp_path / "data", n_per_class=1, size=32)
    mix = training_mix(data, reviewed)
    added = mix.table[mix.table.clip_path.str.startswith(REVIEWED_PREFIX)]
    assert len(added) == len(reviewed.split("train")) and set(added.split) == {"train"}
    held_out = set(reviewed.split("holdout").clip_path)
    assert not held_out & {p[len(REVIEWED_PREFIX) :] for p in added.clip_path}  # never the held-out requests
    assert mix.load_clip(added.clip_path.iloc[0]).shape == (16, 32, 32, 3)
    assert mix.load_clip(data.table.clip_path[0]).shape == (16, 32, 32, 3)
    assert "7 reviewed production requests" in mix.source and mix.content_hash != data.content_hash
    with pytest.raises(ValueError, match="size"):
        training_mix(make_clip_dataset(tmp_path / "big", n_per_class=1, size=48), reviewed)
    shadowed = log.read().assign(shadow_model_version="4", shadow_verdict="fake")
    check = shadow_check(shadowed, reviewed, "4")
    assert check["shadowed_requests"] == 10 and check["reviewed_requests"] == 10
    assert check["candidate_accuracy"] == 0.5 and check["production_accuracy"] == 0.5  # 5 fakes, 5 reals
    assert check["verdict_agreement"] == 0.0  # production said real for all, the challenger fake

"""The clip store is idempotent and resumable, and the clip table describes what is stored."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.data.clip_store import ClipStore, extract_catalog
from deepfake_detection.data.clips import make_detector


class CountingDetector:
    """The real detector, counting calls: a rerun that redoes nothing makes none."""

    def __init__(self, params):
        self.inner = make_detector(params.faces)
        self.name, self.min_face_px = self.inner.name, self.inner.min_face_px
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return self.inner.detect(frame)


def test_clip_table_matches_the_stored_clips(small_demo_tables):
    _, clips, _failures, store = small_demo_tables
    assert len(clips) > 50
    assert clips["clip_id"].is_unique
    for row in clips.sample(5, random_state=0).itertuples():
        arr = store.load_clip(row.clip_path)
        assert arr.shape == (16, 224, 224, 3) and arr.dtype == np.uint8
        assert row.clip_bytes == (store.root / row.clip_path).stat().st_size
    assert clips["clip_bytes"].mean() == pytest.approx(16 * 224 * 224 * 3 + 128, abs=64)
    assert set(clips.columns) >= {"video_id", "start_frame", "face_size", "crop_boxes", "split", "method"}


def test_rerun_redoes_nothing_and_interrupted_run_resumes(small_demo_tables, small_clip_params, tmp_path):
    catalog, clips, _, _ = small_demo_tables
    store = ClipStore(tmp_path, small_clip_params)
    subset = catalog.iloc[:6]

    class Interrupt(Exception):
        pass

    def stop_after_three(done, total, video_id, cached):
        if done == 3:
            raise Interrupt

    first = CountingDetector(small_clip_params)
    with pytest.raises(Interrupt):
        extract_catalog(subset, store, first, progress=stop_after_three)
    done_before = len(list(store.root.glob("*/manifest.json")))
    assert done_before == 3

    resumed = CountingDetector(small_clip_params)
    seen = []
    table, _ = extract_catalog(subset, store, resumed, progress=lambda d, t, v, cached: seen.append(cached))
    assert seen == [True, True, True, False, False, False]
    assert resumed.calls > 0

    again = CountingDetector(small_clip_params)
    table2, _ = extract_catalog(subset, store, again)
    assert again.calls == 0
    assert table2.equals(table)
    expected = clips[clips.video_id.isin(subset.video_id)].reset_index(drop=True)
    assert table.equals(expected)

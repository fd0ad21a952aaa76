"""The synthetic demo set: FF++ layout, both classes and compressions, deterministic, faces present."""

from __future__ import annotations

import json

import numpy as np

from deepfake_detection.config import DemoParams
from deepfake_detection.datasets.demo import DEMO_METHODS, build_demo_dataset
from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog
from deepfake_detection.media.reader import VideoReader


def test_layout_and_counts(small_demo):
    catalog = build_catalog(small_demo, splits=OfficialSplits.load(small_demo / "splits"))
    assert catalog.error.isna().all()
    # 4 pairs -> 8 originals; each original is the target of one fake per method; two encodings each
    assert (catalog.label == "real").sum() == 8 * 2
    assert (catalog.label == "fake").sum() == 8 * len(DEMO_METHODS) * 2
    assert set(catalog.method) == {"original", *DEMO_METHODS}
    assert set(catalog.compression) == {"c23", "c40"}
    assert catalog.groupby("split").size().to_dict() == {"train": 24, "val": 12, "test": 12}
    c23 = catalog[catalog.compression == "c23"].set_index("target_id").bitrate
    c40 = catalog[catalog.compression == "c40"].set_index("target_id").bitrate
    assert (c40.groupby(level=0).mean() < 0.6 * c23.groupby(level=0).mean()).all()
    assert "NOT FaceForensics++" in (small_demo / "README.txt").read_text()


def test_fakes_differ_from_their_original_in_the_face_region_only(small_demo):
    orig = VideoReader(small_demo / "original_sequences/youtube/c23/videos/900.mp4").get([5])[0].astype(int)
    fake = VideoReader(small_demo / "manipulated_sequences/DemoSelfBlend/c23/videos/900_901.mp4").get([5])[0]
    diff = np.abs(orig - fake.astype(int)).mean(axis=2)
    ys, xs = np.nonzero(diff > 12)
    assert len(ys) > 500  # a visible manipulation
    assert np.median(diff) < 4  # the background is untouched apart from re-encoding
    # confined to the face region: 96% of the changed pixels lie in a box under half the frame
    x_lo, x_hi = np.percentile(xs, [2, 98])
    y_lo, y_hi = np.percentile(ys, [2, 98])
    assert (x_hi - x_lo) * (y_hi - y_lo) < 0.5 * diff.size


def test_build_is_deterministic_and_skipped_when_done(tmp_path, small_demo):
    params = DemoParams(pairs={"train": 1, "val": 0, "test": 0}, frames=20, seed=3)
    a = build_demo_dataset(tmp_path / "a", params)
    b = build_demo_dataset(tmp_path / "b", params)
    files = sorted(p.relative_to(a) for p in a.rglob("*.mp4"))
    assert len(files) == 12  # 2 originals + 2 targets x 2 methods, each at c23 and c40
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    marker = a / "DEMO_DATA.json"
    stamp = marker.stat().st_mtime_ns
    build_demo_dataset(a, params)
    assert marker.stat().st_mtime_ns == stamp
    assert json.loads(marker.read_text())["seed"] == 3

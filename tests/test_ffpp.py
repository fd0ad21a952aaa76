"""The FF++ catalog: layout, labels, ids, official identity-disjoint splits and probed metadata."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.datasets.demo import write_video
from deepfake_detection.datasets.ffpp import OfficialSplits, actor_split, build_catalog, scan


def test_official_splits_are_identity_disjoint():
    splits = OfficialSplits.load()
    assert {s: len(p) for s, p in splits.pairs.items()} == {"train": 360, "val": 70, "test": 70}
    ids = {s: {i for pair in pairs for i in pair} for s, pairs in splits.pairs.items()}
    assert not ids["train"] & ids["val"]
    assert not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    mapping = splits.id_to_split()  # raises on an id in two splits
    assert len(mapping) == 1000


def test_overlapping_split_lists_are_rejected(tmp_path):
    for split, pairs in {"train": [["001", "002"]], "val": [["002", "003"]], "test": []}.items():
        (tmp_path / f"{split}.json").write_text(str(pairs).replace("'", '"'))
    with pytest.raises(ValueError, match="002"):
        OfficialSplits.load(tmp_path).id_to_split()


def test_actor_split_is_deterministic_and_uses_every_split():
    assert actor_split("07") == actor_split("07")
    seen = {actor_split(f"{i:02d}") for i in range(1, 29)}
    assert seen == {"train", "val", "test"}


@pytest.fixture
def tiny_tree(tmp_path):
    """Every layout variant: youtube raw/c23, actors, a youtube method and DeepFakeDetection."""
    frames = np.full((4, 64, 96, 3), 128, np.uint8)
    files = [
        "original_sequences/youtube/raw/videos/071.mp4",
        "original_sequences/youtube/c23/videos/054.mp4",
        "original_sequences/actors/c23/videos/01__walking.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/071_054.mp4",
        "manipulated_sequences/Face2Face/c40/videos/953_974.mp4",
        "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking__4OJNJLOO.mp4",
    ]
    for f in files:
        write_video(tmp_path / f, frames)
    return tmp_path


def test_scan_reads_labels_methods_ids_and_compressions(tiny_tree):
    cat = build_catalog(tiny_tree).set_index("video_id")
    assert len(cat) == 6
    raw = cat.loc["original/youtube/c0/071"]
    assert (raw.label, raw.method, raw.compression, raw.split) == ("real", "original", "c0", "train")
    fake = cat.loc["Deepfakes/youtube/c23/071_054"]
    assert (fake.label, fake.target_id, fake.source_id, fake.split, fake.is_fake) == ("fake", "071", "054", "train", 1)
    assert cat.loc["Face2Face/youtube/c40/953_974"].split == "test"
    dfd = cat.loc["DeepFakeDetection/actors/c23/01_02__walking__4OJNJLOO"]
    assert (dfd.target_id, dfd.source_id, dfd.split) == ("01", "02", actor_split("01"))
    assert cat.loc["original/actors/c23/01__walking"].target_id == "01"
    assert (cat.width == 96).all() and (cat.height == 64).all() and cat.error.isna().all()


def test_scan_filters_methods_and_compressions(tiny_tree):
    entries = scan(tiny_tree, methods=["original", "Deepfakes"], compressions=["c23"])
    assert sorted(e.video_id for e in entries) == [
        "Deepfakes/youtube/c23/071_054",
        "original/actors/c23/01__walking",
        "original/youtube/c23/054",
    ]


def test_ffpp_sample_catalog(ffpp_sample):
    cat = build_catalog(ffpp_sample).set_index("video_id")
    expected = {
        "original/youtube/c23/004": ("real", "original", "val", 1280, 720, 25.0, 309),
        "original/youtube/c23/519": ("real", "original", "train", 640, 480, 25.0, 751),
        "original/youtube/c23/634": ("real", "original", "test", 1280, 720, 25.0, 338),
        "Deepfakes/youtube/c23/519_515": ("fake", "Deepfakes", "train", 640, 480, 25.0, 751),
        "Face2Face/youtube/c23/750_743": ("fake", "Face2Face", "train", 1920, 1080, 30.0, 311),
        "FaceSwap/youtube/c23/634_660": ("fake", "FaceSwap", "test", 1280, 720, 25.0, 338),
        "NeuralTextures/youtube/c23/004_982": ("fake", "NeuralTextures", "val", 1280, 720, 25.0, 309),
    }
    assert set(cat.index) == set(expected)
    for vid, (label, method, split, w, h, fps, frames) in expected.items():
        row = cat.loc[vid]
        assert (row.label, row.method, row.split, row.compression) == (label, method, split, "c23"), vid
        assert (row.width, row.height, row.frame_count) == (w, h, frames), vid
        assert row.fps == pytest.approx(fps), vid
        assert row.codec == "h264" and row.pixel_format == "yuv444p", vid
        assert row.duration_s == pytest.approx(frames / fps, rel=0.02), vid
        assert row.bitrate > 0 and row.file_size > 0 and row.error is None, vid
    # 004.mp4 is the low-bitrate outlier noted in shared/README.md (likely the c40 encoding).
    assert cat.loc["original/youtube/c23/004"].bitrate < 0.3 * cat.loc["NeuralTextures/youtube/c23/004_982"].bitrate

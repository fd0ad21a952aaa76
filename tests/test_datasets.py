"""Dataset adapters beside FF++ (Celeb-DF-v2, DFDC, DFD) on miniature trees, and the video-level rule."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from deepfake_detection.datasets import celebdf, dfdc
from deepfake_detection.datasets.catalog import CATALOG_COLUMNS
from deepfake_detection.datasets.demo import write_video
from deepfake_detection.datasets.sources import load_catalog
from deepfake_detection.metrics.video_rule import video_scores


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    write_video(path, np.full((4, 48, 64, 3), 100, np.uint8))
    return path


def _place(video, root, relative_paths):
    for relative in relative_paths:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, root / relative)


def _identities(table, split):
    part = table[table["split"] == split]
    return set(part["target_id"].dropna()) | set(part["source_id"].dropna())


def test_celebdf_follows_the_official_test_list_and_never_leaks_an_identity(tmp_path, tiny_video):
    _place(tiny_video, tmp_path, [
        "Celeb-real/id0_0000.mp4", "Celeb-real/id0_0001.mp4", "Celeb-real/id1_0000.mp4", "Celeb-real/id7_0000.mp4",
        "YouTube-real/00000.mp4", "YouTube-real/00001.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4", "Celeb-synthesis/id2_id3_0000.mp4", "Celeb-synthesis/id7_id8_0000.mp4",
    ])  # fmt: skip
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 Celeb-real/id0_0000.mp4\n1 YouTube-real/00000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    table = celebdf.build_catalog(tmp_path)
    assert list(table.columns) == CATALOG_COLUMNS and table["error"].isna().all()
    test = table[table["split"] == "test"]
    assert sorted(test["video_id"]) == ["Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4",
                                        "YouTube-real/00000.mp4"]  # fmt: skip
    labels = dict(zip(table["video_id"], table["label"], strict=True))
    assert labels["Celeb-synthesis/id2_id3_0000.mp4"] == "fake" and labels["YouTube-real/00001.mp4"] == "real"
    by_id = dict(zip(table["video_id"], table["split"], strict=True))
    assert by_id["Celeb-real/id0_0001.mp4"] == by_id["Celeb-real/id1_0000.mp4"] == "excluded"  # test identities
    assert {by_id["Celeb-synthesis/id2_id3_0000.mp4"], by_id["Celeb-real/id7_0000.mp4"]} <= {"train", "val"}
    assert by_id["Celeb-real/id7_0000.mp4"] == by_id["Celeb-synthesis/id7_id8_0000.mp4"]  # one person, one split
    for a in ("train", "val", "test"):
        for b in ("train", "val", "test"):
            assert a == b or not _identities(table, a) & _identities(table, b)


def test_celebdf_rejects_a_list_that_disagrees_with_the_folders(tmp_path, tiny_video):
    _place(tiny_video, tmp_path, ["Celeb-real/id0_0000.mp4", "YouTube-real/00000.mp4",
                                  "Celeb-synthesis/id0_id1_0000.mp4"])  # fmt: skip
    (tmp_path / "List_of_testing_videos.txt").write_text("0 Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ValueError, match=r"labels Celeb-real/id0_0000\.mp4 fake"):
        celebdf.build_catalog(tmp_path)
    (tmp_path / "List_of_testing_videos.txt").write_text("1 Celeb-real/id9_0000.mp4\n")
    with pytest.raises(FileNotFoundError, match="id9_0000"):
        celebdf.build_catalog(tmp_path)


def test_dfdc_training_parts_test_set_and_preview(tmp_path, tiny_video):
    part = tmp_path / "dfdc_train_part_0"
    _place(tiny_video, part, ["a.mp4", "b.mp4", "c.mp4", "d.mp4"])
    (part / "metadata.json").write_text(json.dumps({
        "a.mp4": {"label": "REAL", "split": "train"}, "b.mp4": {"label": "FAKE", "original": "a.mp4"},
        "c.mp4": {"label": "FAKE", "original": "a.mp4"}, "d.mp4": {"label": "REAL"},
    }))  # fmt: skip
    _place(tiny_video, tmp_path / "test", ["x.mp4", "y.mp4"])
    (tmp_path / "test" / "labels.csv").write_text("filename,label\nx.mp4,1\ny.mp4,0\n")
    _place(tiny_video, tmp_path, ["method_A/1/1_A/0.mp4", "original_videos/1/0.mp4"])
    (tmp_path / "dataset.json").write_text(json.dumps({
        "method_A/1/1_A/0.mp4": {"label": "fake", "set": "test", "target_id": "1"},
        "original_videos/1/0.mp4": {"label": "real", "set": "test", "target_id": "1"},
    }))  # fmt: skip
    table = dfdc.build_catalog(tmp_path).set_index("video_id")
    assert (
        table.loc["dfdc_train_part_0/b.mp4", "label"] == "fake"
        and table.loc["dfdc_train_part_0/d.mp4", "label"] == "real"
    )
    groups = table.loc[["dfdc_train_part_0/a.mp4", "dfdc_train_part_0/b.mp4", "dfdc_train_part_0/c.mp4"]]
    assert groups["split"].nunique() == 1 and set(groups["split"]) <= {"train", "val"}  # fakes follow their original
    assert (table.loc["test/x.mp4", "label"], table.loc["test/y.mp4", "label"]) == ("fake", "real")
    assert table.loc[["test/x.mp4", "test/y.mp4"], "split"].eq("test").all()
    assert table.loc["preview/method_A/1/1_A/0.mp4", "method"] == "method_A"
    assert table.loc["preview/original_videos/1/0.mp4", "split"] == "test"


def test_dfd_is_the_actors_part_of_ffpp_and_absent_sets_are_skipped(tmp_path, tiny_video, caplog):
    _place(tiny_video, tmp_path / "ffpp", [
        "original_sequences/actors/c23/videos/01__walking.mp4", "original_sequences/youtube/c23/videos/000.mp4",
        "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking__ABC.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
    ])  # fmt: skip
    table = load_catalog("dfd", tmp_path / "ffpp")
    assert sorted(table["method"]) == ["DeepFakeDetection", "original"] and (table["subset"] == "actors").all()
    assert table.groupby("target_id")["split"].nunique().max() == 1  # an actor's videos share a split
    with caplog.at_level(logging.WARNING):
        assert load_catalog("celebdf", tmp_path / "nowhere") is None
    assert "not found" in caplog.text


def test_two_methods_sharing_a_video_name_stay_two_videos():
    """video_id names the method's folder: DeepfakeBench merged such scores; this rule keeps them apart."""
    clips = pd.DataFrame({
        "video_id": ["Deepfakes/youtube/c23/000_003"] * 2 + ["FaceSwap/youtube/c23/000_003"] * 2
                    + ["original/youtube/c23/000"] * 2,
        "face_index": [0, 0, 0, 0, 0, 1],
        "p_fake": [0.9, 0.7, 0.2, 0.4, 0.1, 0.6],
        "is_fake": [1, 1, 1, 1, 0, 0],
    })  # fmt: skip
    videos = video_scores(clips).set_index("video_id")["p_fake"]
    assert len(videos) == 3
    assert videos["Deepfakes/youtube/c23/000_003"] == pytest.approx(0.8)  # mean over the person's clips
    assert videos["FaceSwap/youtube/c23/000_003"] == pytest.approx(0.3)
    assert videos["original/youtube/c23/000"] == pytest.approx(0.6)  # max over persons

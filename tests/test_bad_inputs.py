"""Bad videos get a recorded reason; the rest of the dataset still processes; nothing is lost."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from deepfake_detection.data.clip_store import ClipStore, extract_catalog
from deepfake_detection.datasets.demo import write_video
from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog
from deepfake_detection.media.probe import VideoError, probe
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import classify_error

ORIG = "original_sequences/youtube/c23/videos"


@pytest.fixture
def tree_with_bad_files(small_demo, tmp_path):
    root = tmp_path / "ffpp"
    shutil.copytree(small_demo, root)
    videos = root / ORIG
    good = videos / "900.mp4"
    data = good.read_bytes()
    (videos / "950.mp4").write_bytes(data[: len(data) // 2])  # truncated: the index (moov) is lost
    (videos / "951.mp4").write_bytes(b"")  # zero bytes
    (videos / "952.mp4").write_text("this is not a video\n")  # text named .mp4
    rng = np.random.default_rng(0)
    write_video(videos / "953.mp4", rng.integers(0, 255, (32, 240, 320, 3), dtype=np.uint8))  # no face
    write_video(videos / "954.mp4", _short(good))
    splits = root / "splits"
    train = OfficialSplits.load(splits).pairs["train"] + [("950", "951"), ("952", "953"), ("954", "955")]
    (splits / "train.json").write_text(str([list(p) for p in train]).replace("'", '"'))
    return root


def _short(path):

    return VideoReader(path).get(range(10))  # 10 frames: shorter than one 16-frame clip


@pytest.mark.parametrize(
    ("name", "words", "answer"),
    [
        ("950", "could not be opened as mp4 video: it may be damaged or cut short", (422, "unreadable")),
        ("951", "empty", (415, "empty")),
        ("952", "not a video file this service reads", (415, "not_a_video")),
    ],
)
def test_probe_names_the_file_and_reason(tree_with_bad_files, name, words, answer):
    """The file's path is in the error (for logs), and the status and reason code are the ones the service's door
    answers for the same upload (the CLI and batch rows said `unreadable` for a text file, the service
    `not_a_video`; found by a fresh-clone check)."""
    path = tree_with_bad_files / ORIG / f"{name}.mp4"
    with pytest.raises(VideoError, match=words) as err:
        probe(path)
    assert str(path) in str(err.value)
    assert classify_error(err.value) == answer


def test_bad_files_are_recorded_and_the_rest_processes(
    tree_with_bad_files, small_clip_params, small_demo_tables, tmp_path
):
    catalog = build_catalog(tree_with_bad_files, splits=OfficialSplits.load(tree_with_bad_files / "splits"))
    by_id = catalog.set_index("target_id")
    assert by_id.loc[["950", "951", "952"], "error"].notna().all()
    assert by_id.loc[["953", "954"], "error"].isna().all()

    clips, failures = extract_catalog(catalog, ClipStore(tmp_path / "clips", small_clip_params))
    reasons = failures.assign(target=failures.video_id.str.split("/").str[-1]).groupby("target")["reason"].apply(list)
    assert "empty" in reasons["951"][0]
    assert "may be damaged or cut short" in reasons["950"][0] and "not a video file" in reasons["952"][0]
    assert all(r.startswith("no face") for r in reasons["953"]) and len(reasons["953"]) == 2
    assert reasons["954"] == ["the video is too short: 10 frames, a clip needs 16"]
    codes = failures.assign(target=failures.video_id.str.split("/").str[-1]).groupby("target")["code"].first()
    assert codes[["951", "953", "954"]].tolist() == ["empty", "no_face", "too_short"]
    bad = {"950", "951", "952", "953", "954"}
    assert not clips.video_id.str.split("/").str[-1].isin(bad).any()
    # every good video still gave exactly the clips it gives without the bad files around
    _, reference, _, _ = small_demo_tables
    assert len(clips) == len(reference)
    # nothing lost: each catalog row has clips or a recorded failure
    accounted = set(clips.video_id) | set(failures.video_id)
    assert accounted == set(catalog.video_id)

"""Persons across a video: tracks of separate clip windows linked by who they are, not where they stand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.config import ClipParams, FaceParams
from deepfake_detection.datasets.demo import astronaut_path, write_video
from deepfake_detection.faces import persons
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import extract_video

TILE_W, TILE_H, FRAMES, CUT = 352, 288, 96, 48
PARAMS = ClipParams(clips_per_video=4, faces=FaceParams(max_faces=2))  # windows start at 0, 27, 53, 80


@pytest.fixture(scope="module")
def tiles(carphone) -> tuple[np.ndarray, np.ndarray]:
    """Two real people, (FRAMES, 288, 352, 3) each: the carphone man (2x, face ~125 px) and the astronaut (her
    photo, moved a little every frame so it is video-like)."""
    man = VideoReader(carphone).get(range(FRAMES))
    man = np.stack([np.asarray(Image.fromarray(f).resize((TILE_W, TILE_H), Image.BICUBIC)) for f in man])
    photo = Image.open(astronaut_path()).convert("RGB")
    woman = np.stack([np.asarray(photo.crop((74 + k % 6, 4, 74 + k % 6 + TILE_W, 4 + TILE_H))) for k in range(FRAMES)])
    return man, woman


def _identities(extracted) -> dict[int, set[str]]:
    """Which real person each person id's clips show, from where the crop is and when (ground truth)."""
    seen: dict[int, set[str]] = {}
    for clip in extracted.clips:
        x0, _, x1, _ = clip.crop_boxes[8]
        left = (x0 + x1) / 2 < TILE_W
        before = clip.frame_indices[8] < CUT
        seen.setdefault(clip.face_index, set()).add("man" if left == before else "woman")
    return seen


def test_two_people_who_swap_sides_keep_their_own_timelines(tiles, tmp_path):
    man, woman = tiles
    frames = np.concatenate([man, woman], axis=2)  # the man left, the astronaut right ...
    frames[CUT:] = np.concatenate([woman, man], axis=2)[CUT:]  # ... then they swap places
    write_video(path := tmp_path / "swap.mp4", frames)
    extracted = extract_video(path, PARAMS)
    assert len(extracted.clips) == 8
    seen = _identities(extracted)
    assert sorted(seen) == [0, 1]
    assert all(len(who) == 1 for who in seen.values()), seen  # never a swap of indices
    assert seen[0] != seen[1]
    assert all(sum(c.face_index == p for c in extracted.clips) == 4 for p in (0, 1))


def test_a_cut_to_another_person_at_the_same_place_is_a_new_person(tiles, tmp_path):
    man, woman = tiles
    frames = man.copy()
    frames[CUT:] = woman[CUT:]
    write_video(path := tmp_path / "cut.mp4", frames)
    extracted = extract_video(path, PARAMS)
    by_window = {c.clip_index: c.face_index for c in extracted.clips}
    assert by_window[0] == by_window[1] != by_window[2] == by_window[3], by_window


def test_one_person_in_one_shot_needs_no_descriptor(tiles, tmp_path, monkeypatch):
    """The cheap cues (place, size, colours) link one person's windows; the face ResNet is not run."""
    calls = []
    real = persons.face_descriptor
    monkeypatch.setattr(persons, "face_descriptor", lambda *a: calls.append(1) or real(*a))
    write_video(path := tmp_path / "one.mp4", tiles[0])
    extracted = extract_video(path, PARAMS)
    assert [c.face_index for c in extracted.clips] == [0, 0, 0, 0] and calls == []

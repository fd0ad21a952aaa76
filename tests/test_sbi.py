"""Self-blended pseudo-fakes: masks on the face, one transform for the whole clip, changes only inside the mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_detection.media.reader import VideoReader
from deepfake_detection.modeling.sbi import (
    BlendDraw,
    clip_landmarks,
    hull_mask,
    sbi_table,
    self_blend,
    transform_source,
)


@pytest.fixture(scope="module")
def face_clip(carphone):
    """16 frames of the carphone face cropped the way clips are (face centred, 1.3x its box), 224 px."""
    frames = VideoReader(carphone).get(range(40, 56))
    # the carphone face box is about (58, 36)-(120, 98): a 1.3x square around it
    return np.stack([np.asarray(Image.fromarray(f).crop((49, 27, 129, 107)).resize((224, 224))) for f in frames])


def test_masks_lie_on_the_face_and_follow_it(face_clip):
    landmarks = clip_landmarks(face_clip)
    assert landmarks.shape == (16, 68, 2)
    for t in (0, 15):
        mask = hull_mask(landmarks[t], 224)
        ys, xs = np.nonzero(mask)
        assert 0.15 < mask.mean() < 0.7  # a face, not a speck or the whole crop
        assert 40 < xs.mean() < 184 and 40 < ys.mean() < 184  # around the centre, where the face is
    assert not np.array_equal(landmarks[0], landmarks[15])  # the mask moves with the face


def test_one_transform_for_every_frame_and_changes_only_inside_the_mask(face_clip):
    draw = BlendDraw.draw(np.random.default_rng(3))
    flat = np.full((4, 224, 224, 3), 120, np.uint8)
    sources = [transform_source(f, draw) for f in flat]
    assert all(np.array_equal(sources[0], s) for s in sources[1:])  # the same draw, the same transform
    blended, masks = self_blend(face_clip, clip_landmarks(face_clip), draw)
    changed = np.abs(blended.astype(int) - face_clip.astype(int)).max(axis=-1) > 0
    assert changed.any()
    assert not (changed & (masks == 0)).any()  # outside the mask's support the pixels are the original's
    assert masks.max() <= draw.alpha + 1e-6


def test_blends_are_reproducible_by_seed(face_clip):
    landmarks = clip_landmarks(face_clip)
    a, _ = self_blend(face_clip, landmarks, BlendDraw.draw(np.random.default_rng([7, 2, 11])))
    b, _ = self_blend(face_clip, landmarks, BlendDraw.draw(np.random.default_rng([7, 2, 11])))
    c, _ = self_blend(face_clip, landmarks, BlendDraw.draw(np.random.default_rng([7, 3, 11])))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_modes_decide_which_clips_train():
    table = pd.DataFrame({"clip_id": ["r1", "r2", "f1"], "is_fake": [0, 0, 1], "label": ["real", "real", "fake"],
                          "method": ["original", "original", "Deepfakes"]})  # fmt: skip
    assert sbi_table(table, "off")["sbi"].sum() == 0 and len(sbi_table(table, "off")) == 3
    added = sbi_table(table, "add")
    assert len(added) == 5 and added["sbi"].sum() == 2 and added.loc[added["sbi"], "is_fake"].eq(1).all()
    real_only = sbi_table(table, "real_only")
    assert "Deepfakes" not in set(real_only["method"]) and real_only["is_fake"].sum() == 2

"""Probing and frame reading."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.media.probe import VideoLimitError, VideoLimits, probe
from deepfake_detection.media.reader import VideoReader


def test_probe_carphone(carphone):
    info = probe(carphone)
    # stored 176x144 with pixels 128:117 wide: a player shows 192x144
    assert (info.width, info.height, info.frame_count, info.codec) == (192, 144, 120, "h264")
    assert (info.coded_width, info.coded_height, info.sample_aspect_ratio) == (176, 144, "128:117")
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert info.bitrate > 0 and info.pixel_format == "yuv420p"


def test_reader_returns_exactly_the_frames_asked_for(carphone):
    reader = VideoReader(carphone)
    assert reader.num_frames == 120
    frames = reader.get([0, 7, 119])
    assert frames.shape == (3, 144, 192, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[1], reader.get([7])[0])
    assert not np.array_equal(frames[0], frames[2])


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (VideoLimits(max_duration_s=2), "lasts 4.0s, over the limit of 2s"),
        (VideoLimits(max_frames=100), "120 frames is over the limit of 100"),
        (VideoLimits(max_pixels=176 * 143), "176x144 is over the limit"),
        (VideoLimits(max_bytes=1000), "over the limit of 1000"),
    ],
)
def test_limits_are_checked_before_decoding(carphone, limits, words):
    with pytest.raises(VideoLimitError, match=words):
        probe(carphone, limits)

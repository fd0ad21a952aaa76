"""The video-to-verdict path shared by batch scoring and serving."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import tiny_detector
from video_factory import PHONE_FACES

from deepfake_detection.config import ClipParams
from deepfake_detection.datasets.demo import write_video
from deepfake_detection.media.probe import VideoError, VideoLimitError, VideoLimits
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import analyze_video

PARAMS = ClipParams(clips_per_video=3, size=64, faces=PHONE_FACES)


@pytest.fixture(scope="module")
def detector():
    return tiny_detector(PARAMS)


def test_carphone_gets_a_verdict_timeline_and_faces(carphone, detector):
    result = analyze_video(carphone, detector, PARAMS)
    assert result.verdict in {"real", "fake"} and 0 <= result.p_fake <= 1
    assert result.verdict == ("fake" if result.p_fake >= 0.5 else "real")
    assert len(result.faces) == 1 and len(result.faces[0].timeline) == 3
    spans = [(t.start_s, t.end_s) for t in result.faces[0].timeline]
    assert spans == sorted(spans) and all(0 <= a < b <= 4.1 for a, b in spans)
    assert result.faces[0].thumbnail_jpeg  # a small JPEG of the face crop
    assert result.video.width == 192 and set(result.timings) == {"probe_s", "decode_s", "faces_s", "model_s"}
    assert result.video.decoder == "pyav" and result.video.rotation == 0 and result.reasons == []
    assert result.persons.model_dump() == {"seen": 1, "analysed": 1, "too_small": 0, "over_cap": 0}
    # the same clips scored through the library directly give the same p_fake
    from deepfake_detection.data.clips import extract_clips, make_detector

    clips, _ = extract_clips(VideoReader(carphone), PARAMS, make_detector(PARAMS.faces))
    direct = detector.score(np.stack([c.pixels for c in clips]))
    assert result.p_fake == pytest.approx(float(direct.mean()), abs=1e-6)


def test_no_face_and_too_short_are_inconclusive_never_real(tmp_path, carphone, detector):
    noise = np.random.default_rng(0).integers(0, 255, (32, 120, 160, 3), dtype=np.uint8)
    write_video(tmp_path / "noise.mp4", noise)
    result = analyze_video(tmp_path / "noise.mp4", detector, PARAMS)
    assert (result.verdict, result.p_fake, [r.code for r in result.reasons]) == ("inconclusive", None, ["no_face"])
    assert result.reasons[0].message == "No face was found in 3 of 3 clip windows."
    write_video(tmp_path / "short.mp4", VideoReader(carphone).get(range(8)))
    result = analyze_video(tmp_path / "short.mp4", detector, PARAMS)
    assert result.verdict == "inconclusive" and [r.code for r in result.reasons] == ["too_short"]
    assert result.reasons[0].message == "The video is too short: 8 frames, a clip needs 16."


def test_bad_files_raise_clear_errors(tmp_path, carphone, detector):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        analyze_video(tmp_path / "empty.mp4", detector, PARAMS)
    with pytest.raises(VideoLimitError, match="over the limit"):
        analyze_video(carphone, detector, PARAMS, VideoLimits(max_duration_s=1))

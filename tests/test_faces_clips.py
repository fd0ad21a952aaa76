"""Faces on real footage, tracking, crops and clip extraction."""

from __future__ import annotations

import re

import numpy as np
import odd_videos as ov
import pytest
import video_factory as vf
from PIL import Image
from video_factory import PHONE_FACES

from deepfake_detection.config import ClipParams, FaceParams
from deepfake_detection.data.clips import (
    FaceCounts,
    extract_clips,
    keyframe_positions,
    make_detector,
    plan_clip_starts,
)
from deepfake_detection.datasets.demo import astronaut_path, write_video
from deepfake_detection.datasets.ffpp import build_catalog
from deepfake_detection.faces.boxes import Box
from deepfake_detection.faces.crops import square_crop_box
from deepfake_detection.faces.detectors import DlibHogDetector, YuNetDetector, detect_faces, working_scale
from deepfake_detection.faces.tracking import track_faces
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import decide, extract_video


def _face_centre_offset(frame: np.ndarray, crop_box: tuple[int, int, int, int]) -> float:
    """Distance between the face YuNet finds in the full frame and the crop centre, as a fraction of the crop side.

    NaN when the detector misses the face in that frame (the track interpolates over such frames).
    """
    boxes = YuNetDetector().detect(frame)
    if not boxes:
        return float("nan")
    fx, fy = max(boxes, key=lambda b: b.area).center
    x0, y0, x1, y1 = crop_box
    return float(np.hypot(fx - (x0 + x1) / 2, fy - (y0 + y1) / 2) / (x1 - x0))


def test_face_found_in_every_carphone_frame(carphone):
    frames = VideoReader(carphone).get(range(0, 120, 3))
    for detector in (YuNetDetector(), DlibHogDetector()):
        found = [bool(detector.detect(f)) for f in frames]
        assert np.mean(found) >= 0.95, detector.name


def test_astronaut_face_is_found_where_it_is():
    image = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    for detector in (YuNetDetector(), DlibHogDetector()):
        boxes = detector.detect(image)
        assert len(boxes) == 1, detector.name
        cx, cy = boxes[0].center
        assert 200 < cx < 300 and 60 < cy < 170  # her face, not the flag or the helmet


def test_carphone_clips_are_uint8_and_centred_on_the_face(carphone):
    params = ClipParams(clips_per_video=3, faces=PHONE_FACES)
    reader = VideoReader(carphone)
    clips, failures = extract_clips(reader, params, make_detector(params.faces))
    assert not failures and len(clips) == 3
    assert {c.face_index for c in clips} == {0}  # one person over the whole video
    for clip in clips:
        assert clip.pixels.shape == (16, 224, 224, 3) and clip.pixels.dtype == np.uint8
        assert clip.hit_rate >= 0.66
        offsets = [_face_centre_offset(reader.get([clip.frame_indices[pos]])[0], clip.crop_boxes[pos])
                   for pos in range(0, 16, 3)]  # fmt: skip
        assert np.isfinite(offsets).sum() >= 4
        assert np.nanmax(offsets) < 0.1
    assert [c.start_frame for c in clips] == [0, 52, 104]


def test_faces_under_64_px_are_reported_too_small_not_dropped(carphone, tmp_path):
    """Carphone shrunk to 60 % (a ~38 px face): found, reported as too small in every window, never clipped."""
    frames = VideoReader(carphone).get(range(48))
    small = np.stack([np.asarray(Image.fromarray(f).resize((106, 86), Image.BILINEAR)) for f in frames])
    write_video(path := tmp_path / "small_face.mp4", small)
    params = ClipParams(clips_per_video=2)
    clips, failures = extract_clips(VideoReader(path), params, make_detector(params.faces))
    assert clips == [] and len(failures) == 2
    assert {f.code for f in failures} == {"face_too_small"}, failures
    assert all(re.fullmatch(r"a face 3\d px across is smaller than the 64 px a clip needs", f.reason) for f in failures)


@pytest.mark.parametrize(("cap", "analysed", "over_cap"), [(8, 8, 0), (4, 4, 4)])
def test_a_crowd_is_counted_seen_analysed_too_small_and_over_the_cap(carphone, tmp_path, cap, analysed, over_cap):
    """Sixteen faces, eight large enough: every one is counted, the verdict says which were not analysed."""
    path = ov.crowd(tmp_path, vf.carphone_frames(carphone, 48))
    extracted = extract_video(path, ClipParams(clips_per_video=2, faces=FaceParams(max_faces=cap)))
    assert extracted.counts == FaceCounts(seen=16, analysed=analysed, too_small=8, over_cap=over_cap)
    assert len({c.face_index for c in extracted.clips}) == analysed and len(extracted.clips) == 2 * analysed
    answer = decide(extracted, np.full(len(extracted.clips), 0.2), 0.5)
    assert answer.persons.model_dump() == {"seen": 16, "analysed": analysed, "too_small": 8, "over_cap": over_cap}
    messages = {r.code: r.message for r in answer.reasons}
    assert set(messages) == {"face_too_small", "faces_not_analysed"} | ({"over_cap"} if over_cap else set())
    assert f"At least 16 faces were seen and {analysed} analysed" in messages["faces_not_analysed"]


def test_ffpp_sample_faces_and_clips(ffpp_sample):
    params = ClipParams(clips_per_video=2)
    detector = make_detector(params.faces)
    catalog = build_catalog(ffpp_sample)
    for path in catalog["path"]:
        reader = VideoReader(path)
        scale = working_scale(reader.info.height, reader.info.width, detector.min_face_px, 64, 640)
        frames = reader.get(np.linspace(0, reader.num_frames - 1, 8).astype(int))
        rate = np.mean([bool(detect_faces(detector, f, scale)) for f in frames])
        assert rate == 1.0, f"{path}: face in {rate:.0%} of frames"
        clips, failures = extract_clips(reader, params, detector)
        assert len(clips) == 2 and not failures, path
        assert clips[0].pixels.shape == (16, 224, 224, 3)
        frame = reader.get([clips[0].frame_indices[8]])[0]
        assert _face_centre_offset(frame, clips[0].crop_boxes[8]) < 0.1, path  # NaN fails too


def test_clip_planning():
    params = ClipParams(clip_len=16, stride=2, clips_per_video=4)
    assert plan_clip_starts(30, params) == []  # a clip spans 31 frames at stride 2
    assert plan_clip_starts(31, params) == [0]
    assert plan_clip_starts(100, params) == [0, 23, 46, 69]
    assert keyframe_positions(ClipParams(faces=FaceParams(detect_every=5))) == [0, 5, 10, 15]
    assert keyframe_positions(ClipParams()) == [0, 8, 15]


def test_tracking_smooths_jitter_and_keeps_faces_apart():
    rng = np.random.default_rng(0)
    detections = {}
    for pos in range(0, 16, 3):
        jitter = rng.normal(0, 4, size=2)
        big = Box(100 + jitter[0], 100 + jitter[1], 200 + jitter[0], 200 + jitter[1])
        small = Box(300, 50, 340, 90)
        spurious = [Box(10, 10, 30, 30)] if pos == 6 else []
        detections[pos] = [small, big, *spurious]
    tracks = track_faces(detections, 16, max_faces=3)
    assert len(tracks) == 2  # the one-off detection is dropped
    assert tracks[0].boxes[0].width > tracks[1].boxes[0].width  # largest first
    centres = np.array([b.center for b in tracks[0].boxes])
    raw = np.array([detections[p][1].center for p in sorted(detections)])
    assert np.abs(np.diff(centres, axis=0)).max() < np.abs(np.diff(raw, axis=0)).max()
    assert len({round(b.width, 6) for b in tracks[0].boxes}) == 1  # one crop size per clip


def test_square_crop_stays_inside_the_frame():
    assert square_crop_box(Box(0, 0, 50, 50), 320, 240) == (0, 0, 65, 65)
    assert square_crop_box(Box(290, 200, 320, 240), 320, 240) == (268, 188, 320, 240)
    assert square_crop_box(Box(0, 0, 300, 300), 320, 240) == (30, 0, 270, 240)  # centred, as big as fits


@pytest.mark.parametrize("canvas", [(144, 176), (480, 640), (1080, 1920), (2160, 3840)])
def test_a_64_px_face_is_found_at_any_frame_size(carphone, canvas):
    """The working scale keeps a 64 px face above YuNet's ~24 px minimum, from phone video to 4K."""
    frame = VideoReader(carphone).get([30])[0]
    face = np.asarray(Image.fromarray(frame).resize((194, 158), Image.BICUBIC))  # its face: ~68 px
    h, w = canvas
    image = np.random.default_rng(0).integers(90, 130, (h, w, 3), dtype=np.uint8)
    y, x = max(0, (h - 158) // 2), max(0, (w - 194) // 2)
    image[y : y + 158, x : x + 194] = face[: h - y, : w - x]
    detector = make_detector(FaceParams())
    scale = working_scale(h, w, detector.min_face_px, 64, 640)
    boxes = detect_faces(detector, image, scale)
    assert len(boxes) == 1, (canvas, scale, boxes)
    assert 58 <= max(boxes[0].width, boxes[0].height) <= 80
    if w > 640:
        assert scale < 1  # large frames are still shrunk: the cost follows the face, not the frame


def test_faces_in_the_hard_dfdc_samples(dfdc_sample):
    """A dim room with a dark-skinned person, and a three-quarter profile (1080p): a face in every window."""
    params = ClipParams(clips_per_video=8, faces=FaceParams(max_faces=3))
    for path in sorted(dfdc_sample.glob("*.mp4")):
        extracted = extract_video(path, params)
        windows = {c.clip_index for c in extracted.clips}
        assert len(windows) == 8, (path.name, extracted.reasons)
        assert {c.face_index for c in extracted.clips} == {0}, path.name  # one person, no stray detections

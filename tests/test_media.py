"""The one reader of video: the frames a viewer sees, by a decode plan, on every kind of file people send."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import odd_videos as ov
import pytest
from hard_inputs import EXPECTED, HARD
from PIL import Image

from deepfake_detection.config import ClipParams, FaceParams
from deepfake_detection.data.clips import extract_clips, make_detector
from deepfake_detection.media import reader as reader_module
from deepfake_detection.media.formats import sniff_container
from deepfake_detection.media.probe import (
    NoVideoStream,
    UnsupportedCodec,
    VideoError,
    VideoLimitError,
    VideoLimits,
    probe,
)
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import decide, extract_video

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture(scope="module")
def face_frames(carphone) -> np.ndarray:
    return VideoReader(carphone).get(range(96))


def _encode(path: Path, frames: np.ndarray, rotation: int = 0, fps: int = 25) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hard_uploads_give_true_facts_and_a_scored_face(name):
    truth = EXPECTED[name]
    extracted = extract_video(HARD / name, ClipParams(clips_per_video=8), VideoLimits(), with_features=True)
    info = extracted.info
    assert (info.width, info.height, info.rotation, info.codec) == truth[:4]
    assert (info.frame_count, info.sample_aspect_ratio, len(extracted.stats.lost)) == (truth.frames, truth.sar,
                                                                                       truth.lost)  # fmt: skip
    assert info.duration_s == pytest.approx(truth.duration, abs=0.01)
    assert info.fps == pytest.approx(truth.frames / truth.duration, rel=0.01)
    assert len(extracted.clips) == 8 and {c.face_index for c in extracted.clips} == {0}, extracted.failures
    for clip in extracted.clips:
        assert 0 <= clip.start_s < clip.end_s <= info.duration_s + 1e-6
        x0, y0, x1, y1 = np.asarray(clip.crop_boxes).T
        assert x0.min() >= 0 and y0.min() >= 0 and x1.max() <= truth.width and y1.max() <= truth.height
        assert not set(clip.frame_indices) & extracted.stats.lost  # no clip holds a frame that did not decode
    assert (extracted.features["width"], extracted.features["height"]) == (truth.width, truth.height)
    answer = decide(extracted, np.full(len(extracted.clips), 0.2), 0.5)
    assert answer.verdict == "real" and answer.video.frames_lost == truth.lost
    assert "path" not in answer.model_dump(mode="json")["video"]


def test_an_edit_list_shows_only_the_frames_after_the_cut():
    """The trimmed MP4 keeps 30 lead-in frames behind its edit list: they are neither counted nor analysed."""
    path = HARD / "28_editlist_preroll_cut.mp4"
    with av.open(str(path), options={"ignore_editlist": "1"}) as container:  # what is stored, cut or not
        stored = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    reader = VideoReader(path)
    assert (len(stored), reader.num_frames, reader.info.hidden_frames) == (180, 150, 30)
    shown = reader.get([0, 1, 75, 149])
    for got, index in zip(shown, (0, 1, 75, 149), strict=True):
        assert np.array_equal(got, stored[30 + index])  # frame 0 is the first shown one, stored 31st
    assert not np.array_equal(shown[0], stored[0])
    assert reader.time_s(0) == 0.0 and reader.time_s(149) == pytest.approx(149 * 1001 / 30000)
    clips = extract_video(path, ClipParams(clips_per_video=8)).clips
    assert max(i for c in clips for i in c.frame_indices) <= 149


def test_non_square_pixels_are_analysed_as_displayed(face_frames, tmp_path):
    """Stored 576x432 with pixels 4:3 wide: frames, boxes and crops are of the 768x432 picture a player shows."""
    reader = VideoReader(HARD / "30_anamorphic_sar4x3.mp4")
    assert (reader.info.width, reader.info.height, reader.info.coded_width) == (768, 432, 576)
    frame = reader.get([10])[0]
    with av.open(str(HARD / "30_anamorphic_sar4x3.mp4")) as container:
        stored = next(f for i, f in enumerate(container.decode(video=0)) if i == 10).to_ndarray(format="rgb24")
    stretched = np.asarray(Image.fromarray(stored).resize((768, 432), Image.BILINEAR)).astype(int)
    assert frame.shape == (432, 768, 3) and np.abs(frame.astype(int) - stretched).mean() < 2
    # the face crop is square in the displayed picture: its box is wider than tall in stored pixels
    clip = extract_video(HARD / "30_anamorphic_sar4x3.mp4", ClipParams(clips_per_video=1)).clips[0]
    x0, y0, x1, y1 = clip.crop_boxes[8]
    assert x1 - x0 == y1 - y0 and x1 <= 768


def test_damaged_packets_cost_only_their_frames():
    """115 of 120 frames decode; windows over the damage move past it; the rest are the reference frames."""
    path = HARD / "39_corrupt_packets_mid_file.mp4"
    reference = ov.reference_frames(path)
    reader = VideoReader(path)
    windows = list(reader.windows([list(range(s, s + 16)) for s in (0, 15, 30, 45, 59, 74, 89, 104)]))
    assert len(reference) == 115 and sorted(reader.stats.lost) == [35, 38, 64, 85, 86]
    assert all(w.indices is not None for w in windows) and [w.shift for w in windows if w.shift] == [9, 6, 13]
    decoded = [i for i in range(120) if i not in reader.stats.lost]
    for window in windows:
        for index, frame in zip(window.indices, window.frames, strict=True):
            assert np.array_equal(frame, reference[decoded.index(index)])
    answer = decide(extract_video(path, ClipParams(clips_per_video=8)), np.full(8, 0.2), 0.5)
    assert [r.code for r in answer.reasons] == ["frames_lost"] and "5 frames could not be decoded" in answer.reasons[
        0].message  # fmt: skip


def test_packed_b_frames_come_in_display_order():
    """Xvid AVI: the container's timestamps are shuffled; the frames are the decoder's, in its order."""
    path = HARD / "42_xvid_bframes_mp3.avi"
    reader = VideoReader(path)
    assert (reader.num_frames, reader.info.timestamps, reader.info.codec) == (118, "decode order", "mpeg4")
    assert reader.info.start_s == pytest.approx(4 * 1001 / 30000)  # the first picture is at 0.133 s
    got = reader.get(range(118))
    reference = ov.reference_frames(path)
    assert all(np.array_equal(a, b) for a, b in zip(got, reference, strict=True))
    times = [reader.time_s(i) for i in range(118)]
    assert times[0] == 0.0 and all(b > a for a, b in pairwise(times))


def test_joined_recordings_are_counted_end_to_end(face_frames, tmp_path):
    """Two MPEG-TS recordings whose clocks both start at 1.4 s, joined: 96 frames, 3.84 s, one discontinuity."""
    path = ov.joined_mpegts(tmp_path, face_frames)
    reader = VideoReader(path)
    assert (reader.num_frames, reader.info.discontinuities) == (96, 1)
    assert reader.info.duration_s == pytest.approx(3.84, abs=0.01)
    times = [reader.time_s(i) for i in range(96)]
    assert all(b > a for a, b in pairwise(times))
    got = reader.get(range(96))
    assert all(np.array_equal(a, b) for a, b in zip(got, ov.reference_frames(path), strict=True))
    starts = [round(c.start_s, 2) for c in extract_video(path, ClipParams(clips_per_video=4)).clips]
    assert starts == sorted(starts) and starts[-1] > 2.0  # the second recording is analysed too


def test_a_frame_size_change_keeps_each_frame_s_shape(face_frames, tmp_path):
    """A WebM turning from landscape to portrait: the portrait frames are fitted into the first frame's picture
    with black bars, never squashed; the change is stated."""
    path = ov.size_change_webm(tmp_path, face_frames)
    reader = VideoReader(path)
    frames = reader.get([10, 70])
    assert frames.shape == (2, 144, 192, 3)
    assert reader.stats.size_changes == [(pytest.approx(1.92), 144, 192)]
    portrait = frames[1]
    bar = (192 - 144 * 144 // 192) // 2
    assert portrait[:, : bar - 2].max() < 20 and portrait[:, -bar + 2 :].max() < 20  # bars left and right
    assert portrait[:, bar + 4 : -bar - 4].mean() > 40
    answer = decide(extract_video(path, ClipParams(clips_per_video=4)), np.full(4, 0.2), 0.5)
    assert any("frame size changes to 144x192 at 1.92 s" in n for n in answer.video.notes)


@pytest.mark.parametrize("make", [ov.mpeg_ps, ov.odd_vp9_mp4, ov.wmv_asf], ids=["mpeg-ps", "odd-vp9-mp4", "wmv-asf"])
def test_other_containers_are_read_frame_for_frame(face_frames, tmp_path, make):
    path = make(tmp_path, face_frames)
    assert sniff_container(path.read_bytes()[:512]) is not None  # accepted at the door
    reader = VideoReader(path)
    reference = ov.reference_frames(path)
    assert reader.num_frames == len(reference) == 96
    starts = (0, 27, 53, 80)
    for window in reader.windows([list(range(s, s + 16)) for s in starts]):  # the decode plan's frames ...
        for index, frame in zip(window.indices, window.frames, strict=True):
            assert np.array_equal(frame, reference[index])  # ... are the reference's, frame for frame
    assert len(extract_video(path, ClipParams(clips_per_video=4, faces=FaceParams(min_face_px=32))).clips) == 4


def test_raw_dv_is_read_at_its_display_size(face_frames, tmp_path):
    """A camcorder's raw DV: accepted at the door, every frame, PAL's 16:15 pixels shown square (768x576)."""
    path = ov.raw_dv(tmp_path, face_frames)
    assert sniff_container(path.read_bytes()[:512]) == "dv"
    reader = VideoReader(path)
    assert (reader.num_frames, reader.info.display_size, reader.info.sample_aspect_ratio) == (96, (768, 576), "16:15")
    reference = ov.reference_frames(path)  # stored 720x576
    shown = reader.get([0, 50, 95])
    for frame, index in zip(shown, (0, 50, 95), strict=True):
        expected = np.asarray(Image.fromarray(reference[index]).resize((768, 576), Image.BILINEAR))
        assert np.abs(frame.astype(int) - expected.astype(int)).mean() < 3
    assert len(extract_video(path, ClipParams(clips_per_video=4, faces=FaceParams(min_face_px=32))).clips) == 4


def test_an_hour_long_video_is_analysed_by_seeking(face_frames, tmp_path):
    """Not refused for its length: 8 windows spread over the hour, read by seeking, a few hundred frames decoded."""
    path = ov.hour_long(tmp_path, face_frames)
    extracted = extract_video(path, ClipParams(clips_per_video=8, faces=FaceParams(min_face_px=32)), VideoLimits())
    assert extracted.info.duration_s == pytest.approx(3600, abs=1)
    starts = [c.start_s for c in extracted.clips]
    assert len(starts) == 8 and starts[0] < 60 and starts[-1] > 3500
    assert extracted.stats.seeks >= 6 and extracted.stats.frames_decoded < 400


def test_the_plan_gives_the_frames_of_one_sequential_decode(dfdc_sample):
    """A long-GOP 1080p file: windows read by the plan (skipping non-reference frames between them) are the
    frames a full sequential decode gives."""
    path = sorted(dfdc_sample.glob("*.mp4"))[0]
    reference = ov.reference_frames(path)
    reader = VideoReader(path)
    starts = [0, 40, 81, 121, 162, 202, 243, 284]
    for window in reader.windows([list(range(s, s + 16)) for s in starts]):
        assert all(np.array_equal(f, reference[i]) for i, f in zip(window.indices, window.frames, strict=True))
    assert reader.stats.frames_decoded < 300 and reader.stats.frames_converted == 128  # RGB only for those used


def _reading_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "video-read-ahead" and t.is_alive()]


@pytest.mark.parametrize("name", ["carphone", "39_corrupt_packets_mid_file.mp4", "24_uhd_3840x2160.mp4"])
def test_reading_ahead_gives_the_same_clips(carphone, name):
    """Windows read ahead in the reader's thread while faces are found give the clips, failures and decode
    facts of reading in turns, frame for frame (a file with damaged packets: the same windows shifted; 4K: the
    same decimated pictures)."""
    path = carphone if name == "carphone" else HARD / name
    params = ClipParams(clips_per_video=8)
    detector = make_detector(params.faces)
    got = {}
    for ahead in (0, 2):
        with VideoReader(path) as reader:
            clips, failures = extract_clips(reader, params, detector, ahead=ahead)
            got[ahead] = clips, failures, reader.stats
        assert not _reading_threads()
    (clips0, failures0, stats0), (clips2, failures2, stats2) = got[0], got[2]
    assert len(clips0) == len(clips2) >= 4
    for a, b in zip(clips0, clips2, strict=True):
        assert a.frame_indices == b.frame_indices and a.crop_boxes == b.crop_boxes and a.face_index == b.face_index
        assert np.array_equal(a.pixels, b.pixels)
    assert [(f.clip_index, f.code) for f in failures0] == [(f.clip_index, f.code) for f in failures2]
    assert stats0 == stats2


def test_a_read_ahead_stops_when_the_reader_closes_or_another_read_begins(carphone):
    """The reading thread never outlives its read: closing the reader, or starting another read on it, stops
    it first (so the file is never closed under the decoder), and the stopped read says so; a closed reader
    refuses to read (it reopened the file before)."""
    windows = [list(range(s, s + 16)) for s in range(0, 80, 10)]
    reader = VideoReader(carphone)
    reference = VideoReader(carphone).get([5, 50])
    read = reader.windows(windows, ahead=1)
    assert next(read).indices == windows[0] and _reading_threads()
    assert np.array_equal(reader.get([5, 50]), reference)  # a new read: the read ahead is stopped first
    assert not _reading_threads()
    with pytest.raises(RuntimeError, match="stopped"):
        next(read)
    read = reader.windows(windows, ahead=1)
    next(read)
    reader.close()
    assert not _reading_threads()
    with pytest.raises(RuntimeError, match="stopped"):
        next(read)
    for closed_use in (lambda: reader.get([5]), lambda: reader.windows(windows)):  # it stays closed (no reopening)
        with pytest.raises(ValueError, match="closed"):
            closed_use()


@pytest.mark.parametrize(("first", "second"), [(1, 1), (0, 1), (1, 0), (0, 0)])
def test_one_read_at_a_time_started_or_not(carphone, first, second):
    """A new read stops the one before, even one never yet asked for a window, read ahead (1) or in turns (0):
    two reads never drive one decoder (two read-ahead threads on one decoder crashed the process, found by a
    fresh-clone check), and the new read's frames are the right ones."""
    windows = [list(range(s, s + 16)) for s in range(0, 80, 10)]
    with VideoReader(carphone) as reference_reader:
        reference = [(w.indices, w.frames[5].rgb()) for w in reference_reader.windows(windows)]
    with VideoReader(carphone) as reader:
        for started in (False, True):
            before = reader.windows(windows, ahead=first)
            if started:
                next(before)
            after = reader.windows(windows, ahead=second)
            with pytest.raises(RuntimeError, match="stopped"):
                next(before)
            got = [(w.indices, w.frames[5].rgb()) for w in after]
            assert [i for i, _ in got] == [i for i, _ in reference]
            assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, reference, strict=True))
            assert not _reading_threads()


def test_a_read_ahead_left_open_is_stopped_at_exit():
    """The exit hook stops a reading thread still running (left to the interpreter's teardown, a 4K decode
    aborted the process in 3 of 15 exits), and the read then says it was stopped."""
    reader = VideoReader(HARD / "24_uhd_3840x2160.mp4")
    read = reader.windows([list(range(s, s + 16)) for s in (0, 7, 14)], ahead=1)
    next(read)
    assert _reading_threads()
    reader_module._stop_live_reads()  # what atexit runs
    assert not _reading_threads()
    with pytest.raises(RuntimeError, match="stopped"):
        next(read)
    reader.close()


def test_a_read_ahead_hands_its_errors_to_the_caller_and_stops_at_a_deadline(carphone):
    """An error while reading ahead is raised where the windows are asked for; a caller that stops early (the
    service's deadline, raised before a clip) leaves no reading thread behind, though the reader stays open."""
    with VideoReader(carphone) as reader:
        with pytest.raises(VideoError, match="outside"):
            next(reader.windows([[0, 1], [5, 10**6]], ahead=1))
        assert not _reading_threads()
        calls = []

        def deadline() -> None:
            calls.append(1)
            if len(calls) == 3:
                raise TimeoutError("past the deadline")

        params = ClipParams(clips_per_video=8)
        with pytest.raises(TimeoutError):
            extract_clips(reader, params, make_detector(params.faces), before_each_clip=deadline, ahead=1)
        assert not _reading_threads()
        assert len(reader.get([0, 90])) == 2  # the reader is still usable


def test_a_seek_that_lands_late_is_not_trusted(face_frames, tmp_path, monkeypatch):
    """A demuxer that seeks past the frame asked for (MPEG-PS byte seeks do): the reader notices and reads on
    from the start, and the frames are still the right ones."""
    path = ov.encode(tmp_path / "short_gop.mp4", face_frames, options={"g": "10"})  # a key frame every 10 frames
    reference = VideoReader(path).get([60, 90])
    real_seek = reader_module._Decoder.seek

    def late(self, target):
        real_seek(self, target)
        later = int(self._index.pts[min(target + 15, len(self._index.pts) - 1)])  # lands at the next key frame
        self._container.seek(later, stream=self._stream, backward=True)

    monkeypatch.setattr(reader_module._Decoder, "seek", late)
    reader = VideoReader(path)
    got = reader.get([60, 90])
    assert reader.stats.seeks == 1 and not reader._seeking
    assert np.array_equal(got, reference)


def test_rotated_frames_are_upright_and_the_face_is_found(carphone, tmp_path):
    """Phones store portrait video as rotated landscape: every angle gives the same upright picture."""
    frames = VideoReader(carphone).get(range(40))
    for angle in (90, 180, 270):
        reader = VideoReader(_encode(tmp_path / f"rot{angle}.mp4", frames, rotation=angle))
        upright = reader.get([5])[0]
        # undoing the display rotation gives back the stored (original) picture, give or take the codec
        restored = np.rot90(upright, -angle // 90).astype(int)
        assert np.abs(restored - frames[5].astype(int)).mean() < 4
        assert reader.info.rotation == angle
        assert (reader.info.width, reader.info.height) == ((144, 192) if angle in (90, 270) else (192, 144))


def test_two_video_streams_the_default_one_is_read(carphone, tmp_path):
    """A small noise stream first, the real video second and marked default: the default one is analysed."""
    faces = VideoReader(carphone).get(range(40))
    noise = np.random.default_rng(0).integers(0, 255, (40, 64, 96, 3), dtype=np.uint8)
    for default in (True, False):
        path = tmp_path / f"two_{default}.mkv"
        with av.open(str(path), "w") as container:
            streams = []
            for frames in (noise, faces):
                stream = container.add_stream("libx264", rate=25)
                stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
                streams.append(stream)
            streams[0].disposition = av.stream.Disposition(0)
            streams[1].disposition = av.stream.Disposition.default if default else av.stream.Disposition(0)
            for a, b in zip(noise, faces, strict=True):
                for stream, frame in zip(streams, (a, b), strict=True):
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
            for stream in streams:
                for packet in stream.encode(None):
                    container.mux(packet)
        reader = VideoReader(path)  # no default flag at all: the larger stream wins
        assert (reader.info.stream_index, reader.info.width, reader.info.frame_count) == (1, 192, 40)
        assert np.abs(reader.get([3])[0].astype(int) - faces[3].astype(int)).mean() < 4


def test_a_gif_is_analysed(carphone, tmp_path):
    frames = VideoReader(carphone).get(range(0, 60))
    images = [Image.fromarray(f).resize((352, 288)) for f in frames]
    images[0].save(path := tmp_path / "talking.gif", save_all=True, append_images=images[1:], duration=40, loop=0)
    extracted = extract_video(path, ClipParams(clips_per_video=2))
    assert (extracted.info.codec, extracted.info.frame_count, extracted.info.container) == ("gif", 60, "gif")
    assert extracted.info.duration_s == pytest.approx(2.4) and len(extracted.clips) == 2


def test_an_unknown_codec_and_a_cover_picture_alone_are_named(tmp_path):
    data = (HARD / "24_uhd_3840x2160.mp4").read_bytes()
    (unknown := tmp_path / "unknown_codec.mp4").write_bytes(data.replace(b"avc1", b"zzz1"))
    with pytest.raises(UnsupportedCodec, match="codec FFmpeg does not recognise") as err:
        probe(unknown)
    assert err.value.code == "unsupported_codec" and str(tmp_path) not in err.value.message
    cover_only = tmp_path / "cover_only.mp4"
    with av.open(str(HARD / "11_cover_art_first.mp4")) as src, av.open(str(cover_only), "w") as dst:
        cover = src.streams.video[0]
        out = dst.add_stream_from_template(cover)
        out.disposition = av.stream.Disposition.attached_pic
        for packet in src.demux(cover):
            if packet.size:
                packet.stream = out
                dst.mux(packet)
    with pytest.raises(NoVideoStream, match="only a cover picture"):
        probe(cover_only)


def test_playlists_and_file_lists_are_never_followed(tmp_path):
    """FFmpeg reads HLS playlists and concat lists, which open other files: the reader opens only the file."""
    (m3u8 := tmp_path / "list.m3u8").write_text(f"#EXTM3U\n#EXTINF:4,\n{HARD / '30_anamorphic_sar4x3.mp4'}\n")
    (concat := tmp_path / "list.txt").write_text(f"ffconcat version 1.0\nfile '{HARD / '30_anamorphic_sar4x3.mp4'}'\n")
    for path in (m3u8, concat):
        with pytest.raises(VideoError) as err:
            probe(path)
        assert err.value.code == "not_a_video" and "accepted containers" in err.value.message
        assert err.value.detail  # FFmpeg's own words are kept for the log, never shown


def test_limits_use_the_measured_stream_not_the_headers():
    """The AVI's headers claim 360 frames: a 200-frame limit passes on the 120 really there."""
    info = probe(HARD / "27_avi_header_overcounts.avi", VideoLimits(max_frames=200, max_duration_s=5))
    assert info.frame_count == 120
    with pytest.raises(VideoLimitError, match="120 frames is over the limit of 100"):
        probe(HARD / "27_avi_header_overcounts.avi", VideoLimits(max_frames=100))

"""The one reader of video: stream choice, measured facts, rotation, decoder agreement, the hard uploads."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from hard_inputs import EXPECTED, HARD
from PIL import Image

from deepfake_detection.config import ClipParams
from deepfake_detection.media.probe import NoVideoStream, UnsupportedCodec, VideoLimitError, VideoLimits, probe
from deepfake_detection.media.reader import VideoReader
from deepfake_detection.scoring.analyze import extract_video

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


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
    width, height, rotation, codec, frames, duration, decoder = EXPECTED[name]
    extracted = extract_video(HARD / name, ClipParams(clips_per_video=4), VideoLimits(), with_features=True)
    info = extracted.info
    assert (info.width, info.height, info.rotation, info.codec) == (width, height, rotation, codec)
    assert (info.frame_count, info.decoder) == (frames, decoder)
    assert info.duration_s == pytest.approx(duration, abs=0.01)
    assert info.fps == pytest.approx(frames / duration, rel=0.01)
    assert len(extracted.clips) == 4 and {c.face_index for c in extracted.clips} == {0}, extracted.reasons
    for clip in extracted.clips:
        assert 0 <= clip.start_s < clip.end_s <= info.duration_s + 1e-6
        x0, y0, x1, y1 = np.asarray(clip.crop_boxes).T
        assert x0.min() >= 0 and y0.min() >= 0 and x1.max() <= width and y1.max() <= height
    assert (extracted.features["width"], extracted.features["height"]) == (width, height)


def test_rotated_frames_are_upright_and_the_face_is_found(carphone, tmp_path):
    """Phones store portrait video as rotated landscape: every angle gives the same upright picture."""
    frames = VideoReader(carphone).get(range(40))
    for angle in (90, 180, 270):
        path = _encode(tmp_path / f"rot{angle}.mp4", frames, rotation=angle)
        fast, fallback = VideoReader(path, backend="decord"), VideoReader(path, backend="pyav")
        upright = fallback.get([5])[0]
        assert np.array_equal(fast.get([5])[0], upright)
        # undoing the display rotation gives back the stored (original) picture, give or take the codec
        restored = np.rot90(upright, -angle // 90).astype(int)
        assert np.abs(restored - frames[5].astype(int)).mean() < 4
        assert fast.info.rotation == angle
        assert (fast.info.width, fast.info.height) == ((144, 176) if angle in (90, 270) else (176, 144))


@pytest.mark.parametrize("source", ["carphone", "ffpp", "dfdc"])
def test_decord_and_pyav_decode_the_same_pixels(source, carphone):
    """The fast path and the fallback must give the model the same frames (measured: identical on H.264)."""
    if source == "carphone":
        paths = [carphone]
    else:
        folder = SHARED / ("ffpp_sample" if source == "ffpp" else "dfdc_sample")
        paths = sorted(folder.glob("**/*.mp4"))[:2]
        if not paths:
            pytest.skip(f"{folder} is not present")
    for path in paths:
        fast, fallback = VideoReader(path, backend="decord"), VideoReader(path, backend="pyav")
        assert fast.info.frame_count == fallback.info.frame_count
        indices = [0, 1, 37, fast.num_frames // 2, fast.num_frames - 1]
        diff = np.abs(fast.get(indices).astype(int) - fallback.get(indices).astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05, path
        assert fast.time_s(37) == fallback.time_s(37)


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
        assert (reader.info.stream_index, reader.info.width, reader.info.frame_count) == (1, 176, 40)
        assert np.abs(reader.get([3])[0].astype(int) - faces[3].astype(int)).mean() < 4


def test_a_gif_is_analysed(carphone, tmp_path):
    frames = VideoReader(carphone).get(range(0, 60))
    images = [Image.fromarray(f).resize((352, 288)) for f in frames]
    images[0].save(path := tmp_path / "talking.gif", save_all=True, append_images=images[1:], duration=40, loop=0)
    extracted = extract_video(path, ClipParams(clips_per_video=2))
    assert (extracted.info.codec, extracted.info.frame_count, extracted.info.decoder) == ("gif", 60, "pyav")
    assert extracted.info.duration_s == pytest.approx(2.4) and len(extracted.clips) == 2


def test_an_unknown_codec_and_a_cover_picture_alone_are_named(tmp_path):
    data = (HARD / "24_uhd_3840x2160.mp4").read_bytes()
    (unknown := tmp_path / "unknown_codec.mp4").write_bytes(data.replace(b"avc1", b"zzz1"))
    with pytest.raises(UnsupportedCodec, match="codec FFmpeg does not recognise"):
        probe(unknown)
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


def test_limits_use_the_measured_stream_not_the_headers():
    """The AVI's headers claim 360 frames: a 200-frame limit passes on the 120 really there."""
    info = probe(HARD / "27_avi_header_overcounts.avi", VideoLimits(max_frames=200, max_duration_s=5))
    assert info.frame_count == 120
    with pytest.raises(VideoLimitError, match="120 frames is over the limit of 100"):
        probe(HARD / "27_avi_header_overcounts.avi", VideoLimits(max_frames=100))

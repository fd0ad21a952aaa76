"""A decoded frame converted only where it is looked at (`media.picture`): regions and working-size pictures cut
from the stored planes are the same pixels as the whole RGB picture cut and resized, in every decoder output
format, size parity and rotation; a frame twice the analysed size or more is held decimated and looks the same."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from deepfake_detection.faces.crops import crop_faces
from deepfake_detection.faces.detectors import detect_faces, make_detector
from deepfake_detection.media.picture import Converter, Picture
from deepfake_detection.media.reader import VideoReader


def _scene(width: int, height: int) -> np.ndarray:
    """Smooth colour gradients (0-120) with saturated sharp-edged blocks: errors of position and colour show."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 120, y / height * 120, (x + y) / (width + height) * 120], axis=-1)
    rgb[height // 4 : height // 2, width // 3 : width // 2] = (250, 20, 40)
    rgb[height // 2 : height * 3 // 4, width // 2 : width * 2 // 3] = (10, 200, 240)
    return rgb.astype(np.uint8)


def _frame(fmt: str, width: int, height: int):
    return av.VideoFrame.from_ndarray(_scene(width, height), format="rgb24").reformat(format=fmt)


def _red_centre(rgb: np.ndarray) -> np.ndarray | None:
    """Where the red block of `_scene` lies (its redness-weighted centre: row, column), None out of view."""
    rgb = rgb.astype(np.float32)
    weight = np.clip(rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) - 150, 0, None)
    if weight.sum() < 20 * 60:
        return None
    rows, cols = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
    return np.array([(rows * weight).sum(), (cols * weight).sum()]) / weight.sum()


def _reference(full: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.asarray(Image.fromarray(np.ascontiguousarray(full[y0:y1, x0:x1])).resize(size, Image.BILINEAR))


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv420p10be",
                                 "gray", "grayf32le", "nv12", "rgb24"])  # fmt: skip
@pytest.mark.parametrize("stored", [(320, 240), (317, 239)])
def test_a_region_is_the_same_pixels_as_the_whole_picture_cut(fmt, stored):
    frame = _frame(fmt, *stored)
    for turns in range(4):
        for size in (stored, (round(stored[0] * 4 / 3), stored[1])):  # square pixels, and a 4:3 sample aspect
            picture = Picture(frame, size, turns, Converter(1))
            full = Converter(1)(frame, *size) if size != stored else Converter(1)(frame)
            full = np.ascontiguousarray(np.rot90(full, turns))
            assert picture.shape == full.shape and np.array_equal(picture.rgb(), full)
            h, w = full.shape[:2]
            for box, out in (((w // 5, h // 7, w // 5 + h // 2, h // 7 + h // 2), (224, 224)),  # enlarged
                             ((1, 3, w - 2, h - 1), (w // 3, h // 3)),  # shrunk, odd edges
                             ((w - 41, h - 37, w, h), (41, 37))):  # at the corner, 1:1  # fmt: skip
                got = Picture(frame, size, turns, Converter(1)).region(*box, *out)
                reference = _reference(full, box, out)
                diff = np.abs(got.astype(int) - reference.astype(int))
                assert got.shape == (out[1], out[0], 3)
                # colours: one resampling from the stored planes against an RGB conversion and PIL's resize
                assert diff.mean() < 4 and np.percentile(diff, 99) <= 40, (turns, size, box, diff.mean())
                # geometry: the same things at the same place, within 1.5 pixels of the picture (swscale's
                # unscaled and scaled paths site 4:2:0 chroma half a chroma sample apart: up to 1.3 pixels of a
                # 4:3 anamorphic picture)
                where, expected = _red_centre(got), _red_centre(reference)
                pixel = 1.5 * max(1.0, out[0] / (box[2] - box[0]), out[1] / (box[3] - box[1]))
                assert (where is None) == (expected is None)
                assert where is None or np.abs(where - expected).max() <= pixel, (turns, size, box, where, expected)


def test_the_working_size_picture_matches_the_whole_picture_resized():
    frame = _frame("yuv420p", 640, 360)
    picture = Picture(frame, (640, 360), 1, Converter(1))
    small = picture.resized(120, 213)
    reference = np.asarray(Image.fromarray(picture.rgb()).resize((120, 213), Image.BILINEAR))
    assert small.shape == (213, 120, 3) and np.abs(small.astype(int) - reference.astype(int)).mean() < 3
    assert picture.resized(120, 213) is small  # kept: overlapping windows detect on the same frame once


def test_crops_and_faces_of_a_decoded_video_need_no_whole_rgb_picture(carphone):
    """The reader's pictures give the same crops and faces as the RGB frames, converting only regions."""
    with VideoReader(carphone) as reader:
        window = next(reader.windows([list(range(16))]))
        converted_before = reader.stats.frames_converted
        detector = make_detector("yunet")
        boxes = detect_faces(detector, window.frames[8], 2.0)
        lazy = crop_faces(window.frames, [boxes[0]] * 16, 224)
        assert all(p._array is None for p in window.frames)  # no whole picture was made
        assert reader.stats.frames_converted - converted_before == 16
        frames = [p.rgb() for p in window.frames]
    eager = crop_faces(frames, [boxes[0]] * 16, 224)
    assert np.abs(lazy.astype(int) - eager.astype(int)).mean() < 3.0  # chroma interpolated, not repeated
    reference = detect_faces(detector, frames[8], 2.0)
    assert len(reference) == len(boxes) and reference[0].iou(boxes[0]) > 0.9


def test_an_empty_region_is_refused():
    picture = Picture.of_array(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="empty region"):
        picture.region(5, 5, 5, 8, 4, 4)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv420p10le"])
def test_a_crop_starting_between_chroma_samples_is_not_moved(fmt):
    """A box on an odd stored pixel is cut from that pixel (chroma interpolated), not from the chroma grid
    next to it: crops of a track do not jitter with the parity of their boxes."""
    import cv2

    texture = (np.indices((144, 176)).sum(axis=0) % 7 * 30).astype(np.uint8)[..., None]  # a pixel-scale pattern
    rgb = np.clip(_scene(176, 144).astype(int) + texture, 0, 255).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
    picture = Picture(frame, (176, 144), 0, Converter(1))
    full = picture.rgb()
    for box in ((16, 16, 112, 112), (17, 15, 113, 111), (17, 17, 113, 113)):
        for out in (32, 48, 96):
            got = Picture(frame, (176, 144), 0, Converter(1)).region(*box, out, out).astype(int)
            x0, y0, x1, y1 = box
            exact = cv2.resize(full[y0:y1, x0:x1], (out, out), interpolation=cv2.INTER_AREA).astype(int)
            moved = cv2.resize(full[y0 - 1 : y1 - 1, x0 - 1 : x1 - 1], (out, out), interpolation=cv2.INTER_AREA)
            error, moved_error = np.abs(got - exact).mean(), np.abs(got - moved.astype(int)).mean()
            assert error < 5 and error < moved_error / 4, (box, out, error, moved_error)


def test_a_region_outside_the_picture_is_refused():
    frame = _frame("yuv420p", 175, 143)
    for picture in (Picture(frame, (175, 143), 0, Converter(1)), Picture.of_array(_scene(175, 143))):
        for box in ((185, 0, 195, 5), (175, 0, 180, 10), (0, -20, 5, -10), (-5, -5, 0, 0)):
            with pytest.raises(ValueError, match="empty region"):
                picture.region(*box, 4, 4)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj422p", "yuv444p", "yuv420p10le", "gray"])
def test_a_frame_decimated_is_the_mean_of_its_blocks(fmt):
    frame = _frame(fmt, 320, 240)
    convert = Converter(1)
    small = convert.decimated(frame, 2)
    assert (small.width, small.height, small.format.name) == (160, 120, fmt)
    assert (small.colorspace, small.color_range) == (frame.colorspace, frame.color_range)
    assert convert.seconds > 0
    for source, target in zip(frame.planes, small.planes, strict=True):
        big = np.frombuffer(source, "<u2" if "10" in fmt else np.uint8)
        big = big.reshape(source.height, -1)[:, : source.width].astype(float)
        mean = big.reshape(target.height, 2, target.width, 2).mean(axis=(1, 3))
        got = np.frombuffer(target, "<u2" if "10" in fmt else np.uint8)
        got = got.reshape(target.height, -1)[:, : target.width]
        assert np.abs(got - mean).max() <= 1  # rounded means
    assert convert.decimated(frame, 1) is frame
    assert convert.decimated(_frame("yuv420p", 322, 240), 4).width == 322  # 322 / 4 is no whole plane: kept
    assert convert.decimated(_frame("nv12", 320, 240), 2).width == 320  # interleaved chroma is not cut


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv420p10le", "nv12", "grayf32le"])
@pytest.mark.parametrize("factor", [2, 3])
def test_a_frame_at_least_twice_the_analysed_size_is_held_shrunk_and_looks_the_same(fmt, factor):
    """A 4K frame analysed at 1920 px is held at 1920 px (a quarter of the memory): its picture, regions and
    working-size picture are those of the frame converted at full size and scaled down."""
    size = (160, 96)
    frame = _frame(fmt, size[0] * factor, size[1] * factor)
    for turns in (0, 1):
        picture = Picture(frame, size, turns, Converter(1))
        # interleaved chroma (nv12) and float samples (grayf32le, EXR's) are held as decoded
        assert picture.held_size == (size if fmt not in ("nv12", "grayf32le") else (frame.width, frame.height))
        full = np.ascontiguousarray(np.rot90(Converter(1)(frame, *size, "AREA"), turns))
        assert picture.shape == full.shape
        h, w = full.shape[:2]
        for box, out in (((w // 5, h // 7, w // 5 + h // 2, h // 7 + h // 2), (112, 112)),
                         ((1, 3, w - 2, h - 1), (w // 3, h // 3))):  # fmt: skip
            got = Picture(frame, size, turns, Converter(1)).region(*box, *out)
            reference = _reference(full, box, out)
            diff = np.abs(got.astype(int) - reference.astype(int))
            # two area filters (decimation, then the region's) against one: the saturated blocks' edges,
            # where 4:2:0 chroma changes at once, differ by up to 50 (3x); everywhere else within a few levels
            assert diff.mean() < 4 and np.percentile(diff, 99) <= 50, (turns, box, diff.mean())
            where, expected = _red_centre(got), _red_centre(reference)
            pixel = 1.5 * max(1.0, out[0] / (box[2] - box[0]))
            assert (where is None) == (expected is None)
            assert where is None or np.abs(where - expected).max() <= pixel, (turns, box, where, expected)
        assert np.abs(picture.rgb().astype(int) - full.astype(int)).mean() < 4
        small = picture.resized(w // 2, h // 2)
        assert np.abs(small.astype(int) - _reference(full, (0, 0, w, h), (w // 2, h // 2)).astype(int)).mean() < 4


def test_the_reader_holds_4k_frames_at_the_analysed_size():
    """The 4K hard input (3840x2160 stored) is analysed at 1920 px: its window pictures hold 1920x1080 planes."""
    path = "tests/fixtures/hard_inputs/24_uhd_3840x2160.mp4"
    with VideoReader(path) as reader:
        window = next(reader.windows([list(range(16))]))
        assert reader.scale < 1 and max(reader.frame_size) == 1920
        assert all(p.held_size == (1920, 1080) for p in window.frames)
        assert all(p.shape == (reader.frame_size[1], reader.frame_size[0], 3) for p in window.frames)
        assert window.frames[3].rgb().shape == window.frames[3].shape


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "yuv420p10le", "gray", "gray10le", "grayf32le", "nv12"])
def test_the_stored_luma_is_on_the_0_255_scale_in_every_format(fmt):
    """The drift features' luma (`reader.stored_luma`): integer samples by range and bit depth (one table lookup
    for 8 bits), float grey (EXR's grayf32le) by way of RGB."""
    from deepfake_detection.media.reader import stored_luma

    grey = (np.mgrid[0:64, 0:96][1] * 2 + 30).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(np.dstack([grey] * 3), format="rgb24").reformat(format=fmt)
    luma = stored_luma(frame)
    assert luma.shape == grey.shape and luma.dtype == np.float32
    assert np.abs(luma - grey).mean() < 1.0

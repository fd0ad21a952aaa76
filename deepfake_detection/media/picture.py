"""A decoded frame as the picture analysed, converted to RGB only where and at the size it is looked at.

The analysed picture of a frame is its stored (coded) picture scaled to square pixels (and to at most
`reader.MAX_ANALYSED_SIDE`) and turned upright. Nothing looks at all of it at full size: faces are found on the
whole picture at a working size (<= 640-720 px, `faces.detectors.working_scale`), searched near a known face in a
small region, and cut as 224 px crops of the face region. A `Picture` keeps the decoded frame (YUV as the decoder
gave it) and converts, by FFmpeg's swscale, only the region asked for, straight from the stored planes to the size
asked for: a 224 px crop of a 4K frame costs ~1 ms instead of ~15 ms for the frame's 1920 px RGB picture and a
crop of it; the detector's 720 px picture of a 4K frame ~3 ms instead of ~12 ms (of a 1080p one ~2 ms, ~2.7 ms by
way of full RGB; measured 2026-12-04).

A stored picture at least twice the analysed size each way (4K analysed at 1920 px) is held decimated: each
stored sample of the kept planes is the mean of a k x k block (OpenCV, ~1.2 ms for a 4K frame), so a window of
16 4K frames holds ~50 MB instead of ~200 MB and the decoder gets its 12 MB buffer back at once, still in cache
(the 2 s 4K fixture's plan went from 1.7-1.9x to 1.2-1.3x one sequential decode, its peak from 706 to 578 MiB).

`Picture.of_array` wraps an RGB array (frames made in memory, a frame whose size changed mid-stream fitted into
the first frame's picture) behind the same calls, sliced and resized by OpenCV.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np

# planar YUV/grey integer formats with one component per plane, whose planes can be cut by rows and columns
# (gray, gray10le, ...; not the float grayf32le of EXR, whose samples are not integers)
_PLANAR = re.compile(r"^((yuv|yuvj|yuva)\d|gray(\d|$))")


class Converter:
    """Frame to RGB (and scaling) by FFmpeg's swscale through one reused context: a frame's own `to_ndarray`
    builds a context per frame (~3 ms for 1080p here, against ~1 ms reused); `threads` slice it. `seconds`:
    the time spent converting so far (the reader's `convert_s`)."""

    def __init__(self, threads: int) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter, self._threads = VideoReformatter(), threads
        self.seconds = 0.0

    def __call__(self, frame, width: int | None = None, height: int | None = None, interpolation: str = "BILINEAR"):
        """uint8 (height, width, 3) RGB of `frame` (its own size when width/height are None).

        `interpolation`: swscale's filter (`BILINEAR`; `AREA` averages, for crops shrunk several times;
        `POINT` and `FAST_BILINEAR` are cheaper but shift or alias)."""
        t0 = time.perf_counter()
        scaled = {"width": width, "height": height, "interpolation": interpolation} if width else {}
        rgb = self._reformatter.reformat(frame, format="rgb24", threads=self._threads, **scaled).to_ndarray()
        self.seconds += time.perf_counter() - t0
        return rgb

    def decimated(self, frame, factor: int):
        """`frame` with its stored planes shrunk `factor` times each way, same format and colour tags: each
        sample the mean of a `factor` x `factor` block (OpenCV's area filter, written straight into the new
        frame's planes). The frame itself when its planes do not divide by `factor` or its format cannot be cut
        (see `Picture`)."""
        if factor < 2 or not _cuttable(frame) or any(p.width % factor or p.height % factor for p in frame.planes):
            return frame
        import av
        import cv2

        t0 = time.perf_counter()
        # planes that divide by `factor` make the new frame's planes exactly 1/factor of them (ceil(ceil(x/a)/b)
        # = ceil(x/ab) for the chroma of any subsampling)
        out = av.VideoFrame(frame.width // factor, frame.height // factor, frame.format.name)
        for source, target in zip(frame.planes, out.planes, strict=True):
            cv2.resize(plane_samples(frame, source), (target.width, target.height), dst=plane_samples(out, target),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
        out.colorspace, out.color_range = frame.colorspace, frame.color_range
        self.seconds += time.perf_counter() - t0
        return out


class Picture:
    """One frame as the analysed picture: upright, square pixels, `shape` (H, W, 3), RGB uint8 on demand.

    Built by the reader from a decoded `av.VideoFrame` (`size`: the unrotated analysed (width, height) the
    stored picture is scaled to; `turns`: quarter turns counter-clockwise that make it upright, as `np.rot90`),
    or from an RGB array (`of_array`). `np.asarray(picture)` is `rgb()`. `on_convert()` is called once, at the
    first conversion (the reader counts converted frames). `shrink`: the converter that decimates a large frame
    (`held_size`), `convert` when None: a reader that decodes in its own thread gives that thread's converter,
    since one converter's swscale context serves one thread at a time.
    """

    def __init__(
        self, frame, size: tuple[int, int], turns: int, convert: Converter, on_convert=None,
        shrink: Converter | None = None,
    ) -> None:  # fmt: skip
        if frame is not None:  # a stored picture twice the analysed size or more is held shrunk (see `held_size`)
            frame = (shrink or convert).decimated(frame, int(min(frame.width / size[0], frame.height / size[1])))
        self._frame, self._size, self._turns, self._convert = frame, size, turns % 4, convert
        self._array: np.ndarray | None = None
        self._resized: dict[tuple[int, int], np.ndarray] = {}
        self._on_convert = on_convert
        w, h = size
        self.shape = (w, h, 3) if self._turns % 2 else (h, w, 3)
        self._cuttable = frame is not None and _cuttable(frame)

    @classmethod
    def of(cls, frame: np.ndarray | Picture) -> Picture:
        """`frame` as a picture: a picture as it is, an RGB array wrapped (`of_array`)."""
        return frame if isinstance(frame, Picture) else cls.of_array(frame)

    @classmethod
    def of_array(cls, rgb: np.ndarray) -> Picture:
        """An RGB uint8 (H, W, 3) array as a picture (already upright)."""
        picture = cls(None, (rgb.shape[1], rgb.shape[0]), 0, None)
        picture._array = rgb
        return picture

    @property
    def held_size(self) -> tuple[int, int]:
        """(width, height) of the stored planes this picture holds and converts from: the decoded frame's,
        or 1/k of it where the frame is k >= 2 times the analysed size each way (a 4K frame analysed at 1920 px
        is held at 1920x1080: 3 MB instead of 12 MB, and a decoder that gets its buffer back at once keeps it
        in cache); the array's size for `of_array`."""
        return (self._frame.width, self._frame.height) if self._frame is not None else (self.width, self.height)

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def height(self) -> int:
        return self.shape[0]

    def rgb(self) -> np.ndarray:
        """The whole picture, uint8 (H, W, 3) (converted once, then kept)."""
        if self._array is None:
            self._converted()
            w, h = self._size
            frame = self._frame
            rgb = self._convert(frame) if (frame.width, frame.height) == (w, h) else self._convert(frame, w, h)
            self._array = _upright(rgb, self._turns)
        return self._array

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rgb = self.rgb()
        return rgb if dtype is None else rgb.astype(dtype)

    def resized(self, width: int, height: int) -> np.ndarray:
        """The whole picture at (width, height), uint8 (height, width, 3): what a face detector is given.

        From the stored planes by swscale's area filter (no full-size RGB picture is made; its fast bilinear
        filter, 0.6 ms cheaper at 1080p, shifts the picture by about a pixel sideways); from the array by
        OpenCV's bilinear resize. Kept per size (overlapping clip windows detect on the same frame).
        """
        if (width, height) == (self.width, self.height):
            return self.rgb()
        key = (width, height)
        if key not in self._resized:
            if self._array is not None or self._frame is None:
                import cv2

                self._resized[key] = cv2.resize(self.rgb(), key, interpolation=cv2.INTER_LINEAR)
            else:
                self._converted()
                turned = (height, width) if self._turns % 2 else (width, height)
                self._resized[key] = _upright(self._convert(self._frame, *turned, "AREA"), self._turns)
        return self._resized[key]

    def region(self, x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> np.ndarray:
        """The rectangle [x0, x1) x [y0, y1) of the picture (its pixels, inside it) at (width, height):
        uint8 (height, width, 3).

        From a decoded frame: the stored planes under the rectangle are cut (from the stored pixel it starts
        on; chroma interpolated where that falls between chroma samples) and converted by swscale straight to
        the size asked for (area filter when shrinking, bilinear when enlarging), so the cost follows the
        region, not the frame. From an array, or a frame format that cannot be cut (packed RGB, palette): a
        slice of `rgb()` resized by OpenCV (area when shrinking, bilinear when enlarging). Raises ValueError
        for a rectangle with nothing inside the picture, or an empty size.
        """
        box = (x0, y0, x1, y1)
        x0, y0 = max(0.0, float(x0)), max(0.0, float(y0))
        x1, y1 = min(float(self.width), float(x1)), min(float(self.height), float(y1))
        if x1 <= x0 or y1 <= y0 or width < 1 or height < 1:
            raise ValueError(f"empty region {box} in a {self.width}x{self.height} picture, or size {width}x{height}")
        if self._array is not None or not self._cuttable:
            return _resize_array(self.rgb(), x0, y0, x1, y1, width, height)
        self._converted()
        # the rectangle and output size in the unrotated analysed picture (`size`), where the stored one maps in
        u0, v0, u1, v1 = _unturned((x0, y0, x1, y1), self._turns, self._size)
        out_w, out_h = (height, width) if self._turns % 2 else (width, height)
        return _upright(self._stored_region(u0, v0, u1, v1, out_w, out_h), self._turns)

    def _stored_region(self, u0: float, v0: float, u1: float, v1: float, out_w: int, out_h: int) -> np.ndarray:
        frame = self._frame
        fx, fy = frame.width / self._size[0], frame.height / self._size[1]
        s0, s1, t0, t1 = u0 * fx, u1 * fx, v0 * fy, v1 * fy  # the rectangle in stored pixels
        a0, b0 = int(s0), int(t0)  # the cut starts on the stored pixel of the rectangle's start (any parity)
        a1, b1 = min(frame.width, max(a0 + 1, math.ceil(s1))), min(frame.height, max(b0 + 1, math.ceil(t1)))
        kx, ky = out_w / (s1 - s0), out_h / (t1 - t0)  # output pixels per stored pixel
        ox, oy = round((s0 - a0) * kx), round((t0 - b0) * ky)
        big_w, big_h = max(round((a1 - a0) * kx), ox + out_w), max(round((b1 - b0) * ky), oy + out_h)
        cut = frame if (a0, b0, a1, b1) == (0, 0, frame.width, frame.height) else _cut(frame, a0, b0, a1, b1)
        shrink = big_w < cut.width and big_h < cut.height
        rgb = self._convert(cut, big_w, big_h, "AREA" if shrink else "BILINEAR")
        return np.ascontiguousarray(rgb[oy : oy + out_h, ox : ox + out_w])

    def _converted(self) -> None:
        if self._on_convert is not None:
            self._on_convert()
            self._on_convert = None


def _upright(rgb: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _unturned(box: tuple[float, float, float, float], turns: int, size: tuple[int, int]):
    """A rectangle of the upright picture in the unrotated one (`size` = its (width, height)), where the
    upright picture is `np.rot90(unrotated, turns)`."""
    x0, y0, x1, y1 = box
    w, h = size
    if turns == 1:  # upright[i, j] = unrotated[j, w - 1 - i]
        return w - y1, x0, w - y0, x1
    if turns == 2:  # upright[i, j] = unrotated[h - 1 - i, w - 1 - j]
        return w - x1, h - y1, w - x0, h - y0
    if turns == 3:  # upright[i, j] = unrotated[h - 1 - j, i]
        return y0, h - x1, y1, h - x0
    return box


def _resize_array(rgb: np.ndarray, x0: float, y0: float, x1: float, y1: float, width: int, height: int):
    import cv2

    xi0, yi0 = int(x0), int(y0)
    xi1, yi1 = max(xi0 + 1, math.ceil(x1)), max(yi0 + 1, math.ceil(y1))
    part = np.ascontiguousarray(rgb[yi0:yi1, xi0:xi1])
    shrink = width < part.shape[1] and height < part.shape[0]
    return cv2.resize(part, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _cuttable(frame) -> bool:
    """Whether the frame's format is planar YUV/grey with one component per plane (nearly every decoder's
    output: yuv420p, yuvj422p, yuv420p10le, ...)."""
    fmt = frame.format
    planes = [c.plane for c in fmt.components]
    little = fmt.components[0].bits <= 8 or not fmt.name.endswith("be")  # 16-bit samples are read little-endian
    return bool(_PLANAR.match(fmt.name)) and little and len(set(planes)) == len(planes) == len(frame.planes)


def plane_samples(frame, plane) -> np.ndarray:
    """The samples of one plane of a planar frame as a writable (height, width) view of its memory: uint8, or
    little-endian uint16 for formats of more than 8 bits (the line padding left out)."""
    dtype = _sample_type(frame)
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
    return rows[:, : plane.width]


def _sample_type(frame) -> np.dtype:
    return np.dtype(np.uint8) if frame.format.components[0].bits <= 8 else np.dtype("<u2")


def _cut(frame, a0: int, b0: int, a1: int, b1: int):
    """A new frame of the stored pixels [a0, a1) x [b0, b1), same format and colour tags.

    A cut may start at any pixel: where it starts between two chroma samples (an odd column of 4:2:0), each
    chroma sample of the cut is interpolated between its two neighbours (linear, as a scaler would), so the
    colours stay where the luma is: a crop is the same picture whatever the parity of its box.
    """
    import av
    import cv2

    out = av.VideoFrame(a1 - a0, b1 - b0, frame.format.name)
    for source, target in zip(frame.planes, out.planes, strict=True):
        step_x, step_y = round(frame.width / source.width), round(frame.height / source.height)
        src = plane_samples(frame, source)
        dst = plane_samples(out, target)
        x, fx = divmod(a0, step_x)
        y, fy = divmod(b0, step_y)
        want_h, want_w = target.height + (fy > 0), target.width + (fx > 0)
        part = src[y : y + want_h, x : x + want_w]
        if part.shape != (want_h, want_w):  # at the picture's edge: the last sample repeated
            part = np.pad(part, ((0, want_h - part.shape[0]), (0, want_w - part.shape[1])), mode="edge")
        if fx:  # OpenCV's weighted sum, rounded: one pass (numpy's float arithmetic took 4 and a float copy)
            part = cv2.addWeighted(part[:, :-1], (step_x - fx) / step_x, part[:, 1:], fx / step_x, 0.0)
        if fy:
            part = cv2.addWeighted(part[:-1], (step_y - fy) / step_y, part[1:], fy / step_y, 0.0)
        dst[:] = part
    out.colorspace, out.color_range = frame.colorspace, frame.color_range
    return out

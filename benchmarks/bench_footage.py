"""Preprocessing on the footage people have: the decode plan against one sequential decode, faces, the whole
front end, and peak memory, per file (a benchmark, not a test).

    .venv/bin/python benchmarks/bench_footage.py [--repeats 3] [FILE ...]

Files: the DFDC samples (10 s 1080p, two key frames each) when `../shared/dfdc_sample` is there, 2 s of 4K
(the hard-input fixture, whose 8 windows use every one of its 30 frames), 10 s phone-style files in 720p and 4K
(one key frame a second, B-frames; made here), and a 10-minute 360p video (the plan seeks). For each, in a
fresh process (so peak memory is that file's):

- `sequential`: one PyAV decode of every frame, threads auto, no RGB (the reference the plan is held to);
- `plan`: the reader's 8 clip windows of 16 frames (`VideoReader.windows` on an opened reader: seek or decode
  on, frames held as decoded until their last window is handed out) and its ratio to `sequential` (the two
  run in turns; the median of the run-by-run ratios);
- `floor`: `sequential` that also shrinks each frame as the reader holds it (a 4K frame decimated to the analysed
  size; smaller ones as decoded) and keeps none: the least a plan that uses every frame must do, as a ratio to
  `sequential` run in turns with it in a process of its own (about 1.0 where nothing is shrunk);
- `decord`: the same 8 windows through decord's `get_batch`, for comparison only, when it is installed;
- `front end`: `extract_video` as the service runs it (8 windows, faces up to 8, drift features; the reader
  decodes a window ahead while faces are found in the last one): its wall time, persons analysed, and the
  process's peak RSS. `turns`: the same call reading each window only when asked for (`ahead=0`), run in turns
  with it; `ahead`: the median of the run-by-run ratios front / turns (what reading ahead saves, on a machine
  whose speed drifts). Each stage's own cost comes from the runs in turns, where the stages do not share the
  cores: probe, decode (the plan, and converting to RGB the parts of frames looked at: the detector's input
  and the face regions), faces, drift features.

Prints a table and writes `.cache/reports/bench/footage.json`. Medians of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / ".cache" / "reports" / "bench"
FOOTAGE = REPO / ".cache" / "bench_footage"


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: libraries loaded, file in the page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sequential_decode(path: Path, held_at: tuple[int, int] | None = None) -> int:
    """Frames of one PyAV decode of every frame, threads auto, no RGB. `held_at`: each frame also goes through
    the reader's holding step (`Picture` at the reader's `frame_size`: a frame twice that size or more is
    decimated to it) and none is kept: the `floor`."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if held_at is None:  # the reference: nothing but the decode
            return sum(1 for _ in container.decode(stream))
        from deepfake_detection.media.picture import Converter, Picture

        convert = Converter(0)
        return sum(1 for frame in container.decode(stream) if Picture(frame, held_at, 0, convert) is not None)


def floor_ratio(path: str, repeats: int) -> float:
    """The median of run-by-run ratios of `sequential_decode` with and without the holding step, run in turns
    (in a process of its own, so that the file's peak memory stays the front end's)."""
    from deepfake_detection.media.reader import VideoReader

    file = Path(path)
    with VideoReader(file) as reader:
        size = reader.frame_size  # the bench's files are upright as stored
    sequential_decode(file), sequential_decode(file, size)  # warm-up
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sequential_decode(file)
        t1 = time.perf_counter()
        sequential_decode(file, size)
        ratios.append((time.perf_counter() - t1) / (t1 - t0))
    return statistics.median(ratios)


def plan_windows(path: Path) -> float:
    """Seconds to read the 8 windows of an opened reader (the probe, reported on its own, is not counted)."""
    from deepfake_detection.config import ClipParams
    from deepfake_detection.data.clips import plan_clip_starts
    from deepfake_detection.media.reader import VideoReader

    with VideoReader(path) as reader:
        starts = plan_clip_starts(reader.num_frames, ClipParams(clips_per_video=8))
        t0 = time.perf_counter()
        for _ in reader.windows([list(range(s, s + 16)) for s in starts]):
            pass
        return time.perf_counter() - t0


def interleaved(path: Path, repeats: int) -> tuple[float, float, float]:
    """Medians of `sequential` and `plan` run in turns, and the median of their ratios run by run: this
    machine's speed drifts by up to 2x, and a ratio of neighbouring runs is what holds still."""
    sequential_decode(path), plan_windows(path)  # warm-up: libraries loaded, file in the page cache
    seq, plan = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sequential_decode(path)
        seq.append(time.perf_counter() - t0)
        plan.append(plan_windows(path))
    ratios = [p / q for p, q in zip(plan, seq, strict=True)]
    return statistics.median(seq), statistics.median(plan), statistics.median(ratios)


def decord_windows(path: Path) -> int:
    import decord

    from deepfake_detection.config import ClipParams
    from deepfake_detection.data.clips import plan_clip_starts

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=0)
    starts = plan_clip_starts(len(reader), ClipParams(clips_per_video=8))
    return sum(len(reader.get_batch(list(range(s, s + 16)))) for s in starts)


def measure_file(path: str, repeats: int) -> dict:
    """Every number of one file, measured in this (fresh) process."""
    import resource

    from deepfake_detection.config import ClipParams
    from deepfake_detection.media.reader import VideoReader
    from deepfake_detection.scoring.analyze import extract_video
    from deepfake_detection.service_settings import ServiceSettings

    file = Path(path)
    with VideoReader(file) as reader:
        info = reader.info
    out = {"file": file.name, "size": f"{info.width}x{info.height}", "frames": info.frame_count,
           "duration_s": round(info.duration_s, 2)}  # fmt: skip
    out["sequential_s"], out["plan_s"], out["plan_ratio"] = interleaved(file, repeats)
    try:
        out["decord_s"] = median_time(lambda: decord_windows(file), repeats)
    except ImportError:
        out["decord_s"] = None
    settings = ServiceSettings()
    params = ClipParams(clips_per_video=settings.clips_per_video, faces=settings.faces)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs, walls = [], {0: [], 1: []}
    for _ in range(repeats):
        for ahead in (0, 1):
            t0 = time.perf_counter()
            extracted = extract_video(file, params, settings.limits, with_features=True, ahead=ahead)
            walls[ahead].append(time.perf_counter() - t0)
            if ahead == 0:
                runs.append(extracted.timings)
    for stage in ("probe_s", "decode_s", "faces_s", "features_s"):
        out[stage] = statistics.median(r.get(stage, 0.0) for r in runs)
    out["front_end_s"], out["in_turns_s"] = statistics.median(walls[1]), statistics.median(walls[0])
    out["ahead_ratio"] = statistics.median(a / b for a, b in zip(walls[1], walls[0], strict=True))
    out["persons"] = extracted.counts.analysed
    out["clips"] = len(extracted.clips)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_before_mib"] = before / 1024
    return out


def phone_style(path: Path, size: tuple[int, int] = (1280, 720), seconds: int = 10, fps: int = 30) -> Path:
    """The carphone face upscaled into a `size` picture at 30 fps, H.264 with a key frame a second and
    B-frames, as phones record (720p, and 4K: `veryfast`, so that making it takes seconds, not minutes)."""
    import av
    import numpy as np
    from PIL import Image

    from deepfake_detection.datasets.demo import carphone_path
    from deepfake_detection.media.reader import VideoReader

    width, height = size
    face_w = round(height * 880 / 720)
    src = VideoReader(carphone_path()).get(range(96))
    options = {"g": str(fps), "bf": "2", "crf": "23", "preset": "veryfast" if width > 1920 else "medium"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        x0 = (width - face_w) // 2
        for i in range(seconds * fps):
            face = src[i % 96 if (i // 96) % 2 == 0 else 95 - i % 96]
            canvas[:, x0 : x0 + face_w] = np.asarray(Image.fromarray(face).resize((face_w, height)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def long_360p(path: Path, minutes: int = 10, fps: int = 25) -> Path:
    """A 10-minute 640x360 video (key frame every 2 s) whose face shows throughout: the plan must seek."""
    import av
    import numpy as np
    from PIL import Image

    from deepfake_detection.datasets.demo import carphone_path
    from deepfake_detection.media.reader import VideoReader

    src = [np.asarray(Image.fromarray(f).resize((440, 360))) for f in VideoReader(carphone_path()).get(range(96))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"g": str(2 * fps), "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        canvas = np.zeros((360, 640, 3), dtype=np.uint8)
        for i in range(minutes * 60 * fps):
            canvas[:, 100:540] = src[i % 96 if (i // 96) % 2 == 0 else 95 - i % 96]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def footage() -> list[Path]:
    FOOTAGE.mkdir(parents=True, exist_ok=True)
    files = sorted((REPO.parent / "shared" / "dfdc_sample").glob("*.mp4"))
    files.append(REPO / "tests" / "fixtures" / "hard_inputs" / "24_uhd_3840x2160.mp4")
    made = {
        "phone_720p.mp4": phone_style,
        "phone_4k_10s.mp4": lambda path: phone_style(path, (3840, 2160)),
        "long_360p_10min.mp4": long_360p,
    }
    for name, make in made.items():
        if not (FOOTAGE / name).is_file():
            print(f"making {name} ...", flush=True)
            make(FOOTAGE / name)
        files.append(FOOTAGE / name)
    return files


def main() -> None:
    from deepfake_detection.offline import apply_offline_env

    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = args.files or footage()
    context = multiprocessing.get_context("spawn")
    results = []
    print(f"{'file':28s} {'size':>10s} {'seq s':>6s} {'plan s':>6s} {'ratio':>5s} {'floor':>5s} {'decord':>6s} "
          f"{'probe':>5s} {'decode':>6s} {'faces':>5s} {'feat':>5s} {'front':>5s} {'turns':>5s} {'ahead':>5s} "
          f"{'pers':>4s} {'peak MiB':>8s}")  # fmt: skip
    for file in files:
        with context.Pool(1) as pool:
            r = pool.apply(measure_file, (str(file), args.repeats))
        with context.Pool(1) as pool:
            r["floor_ratio"] = pool.apply(floor_ratio, (str(file), args.repeats))
        results.append(r)
        decord = f"{r['decord_s']:.3f}" if r["decord_s"] is not None else "-"
        print(f"{r['file'][:28]:28s} {r['size']:>10s} {r['sequential_s']:6.3f} {r['plan_s']:6.3f} "
              f"{r['plan_ratio']:5.2f} {r['floor_ratio']:5.2f} {decord:>6s} {r['probe_s']:5.2f} "
              f"{r['decode_s']:6.2f} {r['faces_s']:5.2f} {r['features_s']:5.2f} {r['front_end_s']:5.2f} "
              f"{r['in_turns_s']:5.2f} {r['ahead_ratio']:5.2f} {r['persons']:4d} {r['peak_rss_mib']:8.0f}",
              flush=True)  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "footage.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

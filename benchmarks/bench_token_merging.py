"""Token merging (ToMe) in the fast path: speed, batching, threads and agreement (a benchmark, not a test).

    .venv/bin/python benchmarks/bench_token_merging.py [--quick] [--sections speed batch threads agreement]

`make bench` runs it as its "token merging" section (`bench.py --sections tome`). Sections:

- speed: VideoMAE-B as the card builds it (random weights: speed only, never agreement), batch 1, seconds per
  clip for torch fp32, OpenVINO int8 and bf16 without merging, and OpenVINO int8 with each default merge schedule
  (`FastPathConfig().token_merging`) and a few more; ratios to torch fp32 from the same run;
- batch: the 8 clips of one request scored one at a time vs in batches of 4 and 8 (OpenVINO int8, plain and
  merged), seconds per clip;
- threads: OpenVINO's inference threads (1, 2) alone and while two decode workers decode a 720p video, as the
  service's worker processes do on these 2 cores: model seconds per clip and decode seconds per window;
- agreement: the export's own check (`build_fast_path`, default candidates and tolerances) on a small VideoMAE
  trained here the way the test suite trains one (`tests/test_training.py`), and on the demo model with its
  validation clips when `make demo` has run in this checkout.

Every row also goes to `.cache/reports/bench/token_merging.json`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))  # synthetic_clips: the test suite's small clip datasets

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

import torch  # noqa: E402

from deepfake_detection.modeling import fast_path as fp  # noqa: E402
from deepfake_detection.modeling.detector import Detector  # noqa: E402
from deepfake_detection.modeling.merge_schedule import MergeInfo, MergeSchedule  # noqa: E402
from deepfake_detection.modeling.model import ModelParams, build_model  # noqa: E402
from deepfake_detection.modeling.token_merging import merged  # noqa: E402

OUT = REPO / ".cache" / "reports" / "bench"
VIDEOMAE_B = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
SECTIONS = ("speed", "batch", "threads", "agreement")
# beside the defaults: a milder and a stronger constant schedule, and one merging only in the first half
EXTRA = (MergeSchedule(r=32), MergeSchedule(keep=0.1), MergeSchedule(r=[300, 200, 150, 100, 50, 30, 0, 0, 0, 0, 0, 0]))


def face_clips(n_per_class: int, size: int = 224):
    """Carphone face clips (real, and fakes with a blended colour-shifted face) from the test suite's maker."""
    from synthetic_clips import make_clip_dataset

    return make_clip_dataset(Path(tempfile.mkdtemp(prefix="tome-bench-")), n_per_class=n_per_class, size=size)


def videomae_b() -> Detector:
    torch.manual_seed(0)
    model, processor = build_model(ModelParams(scratch=VIDEOMAE_B, dropout=0.0), num_frames=16, image_size=224)
    return Detector(model.eval(), processor)


def int8_model(detector: Detector, pixel_values: np.ndarray, schedule: MergeSchedule | None) -> fp.FastModel:
    module = merged(detector.model, schedule) if schedule else None
    ov_model = fp.convert(detector.model, pixel_values, module)
    merge = MergeInfo.of(module, schedule) if module is not None else None
    return fp.FastModel(fp.quantize_int8(ov_model, pixel_values, merge is not None), "int8", merge)


def interleaved(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each call over `rounds` rounds, one call of each per round (after one warm-up call each), so
    that the shared machine's swings (2-5x here when others run their suites) hit every path alike."""
    for fn in calls.values():
        fn()
    times = {label: [] for label in calls}
    for _ in range(rounds):
        for label, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    return times


def report(row, times: dict[str, list[float]], base: str, per: int = 1, notes: dict | None = None) -> None:
    """Rows of best-of-rounds seconds (per `per` clips) and their ratio to `base`; the median of the rounds'
    own ratios goes in the note (both read the same when the machine is quiet)."""
    for label, seconds in times.items():
        median_ratio = float(np.median(np.divide(seconds, times[base])))
        note = (notes or {}).get(label, "") + f"median of the rounds' ratios {median_ratio:.2f}"
        row("tome", label, min(seconds) / per, "s/clip", min(seconds) / min(times[base]), note)


def speed(row, detector: Detector, clips: np.ndarray, quick: bool) -> dict:
    """s/clip at batch 1 for every path (interleaved rounds, best of them); returns the int8 fast models by
    schedule spec (None: every token)."""
    pixel_values = detector.preprocessing(clips).numpy()
    one = pixel_values[:1]
    reference = detector.score_reference(clips, batch_size=1)

    def torch_logits(x):
        with torch.no_grad():
            return detector.model(pixel_values=torch.as_tensor(x)).logits.numpy()

    models = {None: int8_model(detector, pixel_values, None)}
    paths = {"VideoMAE-B torch fp32 (SDPA), batch 1": torch_logits,
             "VideoMAE-B OpenVINO bf16, every token": fp.FastModel(fp.convert(detector.model, pixel_values),
                                                                   "bf16").logits,
             "VideoMAE-B OpenVINO int8, every token": models[None].logits}  # fmt: skip
    notes = {}
    for schedule in (*fp.FastPathConfig().token_merging, *EXTRA):
        fast = models[schedule.spec] = int8_model(detector, pixel_values, schedule)
        label, m = f"VideoMAE-B OpenVINO int8 + ToMe {schedule.spec}", fast.merging
        paths[label] = fast.logits
        notes[label] = f"r {m.label}, tokens {m.tokens[0]}->{m.tokens[-1]}, {m.token_fraction:.0%} of token-layers; "
    for label, logits_of in paths.items():
        p = np.concatenate([fp.p_fake_from_logits(logits_of(pixel_values[i : i + 1])) for i in range(len(clips))])
        notes[label] = notes.get(label, "") + f"max abs p_fake diff {np.abs(p - reference).max():.4f} (random); "
    times = interleaved({label: lambda f=f: f(one) for label, f in paths.items()}, 3 if quick else 8)
    report(row, times, "VideoMAE-B torch fp32 (SDPA), batch 1", notes=notes)
    return models


def batching(row, detector: Detector, clips: np.ndarray, models: dict, quick: bool) -> None:
    """One request's 8 clips: one at a time vs batches of 4 and 8 (interleaved rounds, best of them)."""
    eight = np.concatenate([clips] * (8 // len(clips) + 1))[:8]
    for spec in (None, fp.FastPathConfig().token_merging[-1].spec):
        fast = models[spec]
        calls = {f"8 clips in batches of {b}, {fast.backend}": lambda b=b, f=fast: f.score(detector.preprocessing,
                 eight, batch_size=b) for b in (1, 4, 8)}  # fmt: skip
        report(row, interleaved(calls, 2 if quick else 5), next(iter(calls)), per=8)


def _decode_loop(video: str, stop, done) -> None:
    """A decode worker: decode random 16-frame windows of `video` until told to stop, counting them in `done`."""
    from deepfake_detection.media.reader import VideoReader

    with VideoReader(Path(video)) as reader:
        n = reader.num_frames
        while not stop.is_set():
            start = int(np.random.default_rng().integers(0, n - 16))
            reader.get(range(start, start + 16))
            with done.get_lock():
                done.value += 1


@contextmanager
def decode_workers(video: Path, n: int = 2):
    """`n` processes decoding `video` meanwhile (the service's decode workers); `["rate"]`: windows per second."""
    ctx = multiprocessing.get_context("spawn")
    stop, done, result = ctx.Event(), ctx.Value("i", 0), {}
    workers = [ctx.Process(target=_decode_loop, args=(str(video), stop, done)) for _ in range(n)]
    for w in workers:
        w.start()
    time.sleep(3)  # the workers' start-up
    with done.get_lock():
        done.value = 0
    t0 = time.perf_counter()
    try:
        yield result
    finally:
        result["rate"] = done.value / (time.perf_counter() - t0)
        stop.set()
        for w in workers:
            w.join()


def threads(row, detector: Detector, clips: np.ndarray, models: dict, quick: bool) -> None:
    """OpenVINO inference threads 2 and 1 for one request's 8 clips, alone and while two decode workers decode
    a 720p video: model seconds per clip and the decoders' rate meanwhile (best of repeats)."""
    import openvino as ov
    from bench_serving import make_720p_video

    eight = np.concatenate([clips] * (8 // len(clips) + 1))[:8]
    pixel_values = detector.preprocessing(eight).numpy()
    fast = models[fp.FastPathConfig().token_merging[-1].spec]
    repeats = 2 if quick else 4
    with tempfile.TemporaryDirectory() as tmp:
        video = make_720p_video(Path(tmp) / "720p.mp4")
        with decode_workers(video) as alone:
            time.sleep(5 if quick else 10)
        row("tome", "2 decode workers alone, 720p 16-frame windows", 1 / alone["rate"], "s/window")
        for n_threads in (2, 1):
            config = {"INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY",
                      "INFERENCE_NUM_THREADS": n_threads}  # fmt: skip
            compiled = ov.Core().compile_model(fast.model, "CPU", config)
            times = interleaved({"run": lambda c=compiled: [c(pixel_values[i : i + 1]) for i in range(8)]}, repeats)
            by_itself = min(times["run"]) / 8
            with decode_workers(video) as busy:
                times = interleaved({"run": lambda c=compiled: [c(pixel_values[i : i + 1]) for i in range(8)]},
                                    repeats)  # fmt: skip
            beside = min(times["run"]) / 8
            row("tome", f"{fast.backend}, {n_threads} OpenVINO threads, alone", by_itself, "s/clip")
            row("tome", f"{fast.backend}, {n_threads} OpenVINO threads, 2 decode workers busy", beside, "s/clip",
                beside / by_itself, f"decoding meanwhile {1 / max(busy['rate'], 1e-9):.3f} s/window "
                f"({busy['rate'] / alone['rate']:.0%} of its rate alone)")  # fmt: skip


def agreement(row, quick: bool) -> None:
    """The export's check with the default candidates on trained models: a small VideoMAE trained here and the
    demo model (when `make demo` has run)."""
    for name, detector, clips, labels in trained_models(quick):
        check, _ = fp.build_fast_path(detector, clips, labels, fp.FastPathConfig())
        for c in check.candidates:
            ratio = c.seconds_per_clip_fast / c.seconds_per_clip_reference
            auc = f"AUC {c.auc_reference:.4f} -> {c.auc_fast:.4f}" if c.auc_reference is not None else "AUC n/a"
            tokens = f"tokens {c.token_merging.tokens[0]}->{c.token_merging.tokens[-1]}; " if c.token_merging else ""
            row("agreement", f"{name}: {c.backend_name}", c.max_p_diff, "max abs dp", ratio,
                f"{tokens}mean abs dp {c.mean_p_diff:.4f}; {auc}; {c.seconds_per_clip_fast:.4g} s/clip; "
                f"{'passed' if c.passed else c.reason}")  # fmt: skip
        print(f"  -> {name}: {check.summary}", flush=True)


def trained_models(quick: bool):
    """(name, detector, validation clips, labels) for the trained models this checkout can give."""
    from deepfake_detection.modeling.model import load_model
    from deepfake_detection.modeling.training import TrainParams, train

    with tempfile.TemporaryDirectory() as tmp:
        # tests/test_training.py's recipe: 16x64x64 carphone clips, fakes with a blended colour shift of 24-40
        from synthetic_clips import make_clip_dataset

        dataset = make_clip_dataset(Path(tmp) / "clips", n_per_class=60, size=64, shift=40, light=0.0)
        scratch = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
        no_colour = {"jpeg": 0.0, "saturation": 0.0, "brightness": 0.0, "contrast": 0.0}
        params = TrainParams(model={"scratch": scratch}, epochs=4 if quick else 12, batch_size=8, lr=1e-3,
                             lr_decay=1.0, unfreeze={0: 100}, patience=12, augment=no_colour)  # fmt: skip
        result = train(dataset, params, Path(tmp) / "run")
        model, processor = load_model(result.best_dir)
        clips, labels = fp.calibration_clips(dataset, 64)
        name = f"test-suite VideoMAE (2 layers, 128 tokens, val AUC {result.best_val_auc:.3f})"
        yield name, Detector(model, processor), clips, labels
    demo = demo_model()
    if demo is not None:
        yield demo


def demo_model():
    import os

    os.environ.setdefault("ZENML_CONFIG_PATH", str(REPO / ".cache" / "zenml"))
    try:
        from zenml.client import Client

        dataset = Client().get_artifact_version("clip_dataset").load()
        store = REPO / ".cache" / "bentoml" / "models" / "deepfake-videomae"  # the project's store, by path
        detector = Detector.load(store / (store / "latest").read_text().strip(), backend="torch")
    except Exception as exc:  # no demo run in this checkout
        print(f"  (no demo dataset/model: run `make demo` for the demo model's rows; {type(exc).__name__})")
        return None
    clips, labels = fp.calibration_clips(dataset, 64)
    return "demo model (2 layers, patch 32, 392 tokens)", detector, clips, labels


def run(row, quick: bool = False, sections=SECTIONS) -> None:
    """The sections asked for, each row through `row(section, item, value, unit, ratio, note)` (bench.py's)."""
    models = {}
    if {"speed", "batch", "threads"} & set(sections):
        detector = videomae_b()
        clips, _ = fp.calibration_clips(face_clips(2), 4)
        models = speed(row, detector, clips, quick)
        if "batch" in sections:
            batching(row, detector, clips, models, quick)
        if "threads" in sections:
            threads(row, detector, clips, models, quick)
    if "agreement" in sections:
        agreement(row, quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and epochs (noisier numbers)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    args = parser.parse_args()
    from bench import ROWS, row

    run(row, args.quick, args.sections)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "token_merging.json").write_text(json.dumps({"rows": ROWS}, indent=1))
    print(f"\nwritten: {OUT / 'token_merging.json'}")


if __name__ == "__main__":
    main()

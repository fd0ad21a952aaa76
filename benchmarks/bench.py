"""`make bench`: where the time of an answer goes on this machine, as one table (a benchmark, not a test).

    .venv/bin/python benchmarks/bench.py [--quick]

Medians after a warm-up; every ratio is from the same run. Sections:

1. the CPU's own fp32 and bf16 matmul throughput (so model time reads as a fraction of the machine's peak);
2. decoding 8 windows of 16 frames by the reader's decode plan against one sequential decode of every frame
   (a 10 s 720p video), and the same per file on the footage people have (`bench_footage.py`: the DFDC samples
   when present, 4K, a 720p phone-style file, a 10-minute video) with faces, the whole front end and peak memory;
3. face finding per frame (YuNet at the working resolution) and per clip window;
4. the model per clip (16x224x224, batch 1) for VideoMAE-B as the card builds it (random weights) through
   torch fp32, torch bf16 autocast, OpenVINO fp32/bf16/int8 (NNCF) and ONNX Runtime fp32/int8 (dynamic), with
   the largest |p_fake| difference from torch fp32; and the demo model's configuration;
5. video-level AUC of the fast paths against torch fp32 on the demo test split (when `make demo` has run);
6. end to end through the real service (`bentoml serve`) with a VideoMAE-B-sized model exported with each of
   two fast paths (OpenVINO int8, and int8 with the strongest default merge schedule): a 10 s 720p video with
   one face at 4 and 8 clips, concurrency 1 and 4, and a 10 s 1080p DFDC sample (when present) at concurrency
   1, split into decode, faces, features and model, with the server's memory;
7. token merging in the fast path (`bench_token_merging.py`): each schedule's s/clip and ratio to torch fp32,
   batching, OpenVINO threads beside decode workers, and the export's check on trained models;
8. the cost of reading an upload's evidence (Content Credentials, container facts, audio; `bench_evidence.py`).

Writes `.cache/reports/bench/bench.json`. Random weights measure speed and agreement, never skill.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

import torch  # noqa: E402
from bench_serving import make_720p_video  # noqa: E402

from deepfake_detection.config import ClipParams  # noqa: E402
from deepfake_detection.data.clips import extract_clips, make_detector, plan_clip_starts  # noqa: E402
from deepfake_detection.faces.detectors import detect_faces, working_scale  # noqa: E402
from deepfake_detection.media.reader import VideoReader  # noqa: E402
from deepfake_detection.modeling import fast_path as fp  # noqa: E402
from deepfake_detection.modeling.detector import Detector  # noqa: E402
from deepfake_detection.modeling.model import ModelParams, build_model  # noqa: E402
from deepfake_detection.service_settings import ServiceSettings  # noqa: E402

OUT = REPO / ".cache" / "reports" / "bench"
VIDEOMAE_B = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
DEMO = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "patch_size": 32}
ROWS: list[dict] = []
SECTIONS = ("decode", "model", "auc", "service", "tome", "evidence")


def median_time(fn, repeats: int = 3, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(section: str, item: str, value: float, unit: str, ratio: float | None = None, note: str = "") -> None:
    ROWS.append({"section": section, "item": item, "value": value, "unit": unit, "ratio": ratio, "note": note})
    shown = f"{value:.4g} {unit}" + (f" ({ratio:.2f}x)" if ratio is not None else "") + (f" {note}" if note else "")
    print(f"  {section:10s} {item:42s} {shown}", flush=True)


def machine() -> dict:
    flags = ""
    if Path("/proc/cpuinfo").exists():
        text = Path("/proc/cpuinfo").read_text()
        flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
        model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line), "")
    else:
        model = platform.processor()
    found = [f for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if f" {f}" in flags]
    return {"cpu": model, "cores": os.cpu_count(), "flags": found, "torch": torch.__version__}


def matmul_throughput() -> None:
    n = 2048
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        seconds = median_time(lambda a=a, b=b: a @ b, repeats=5)
        row("machine", f"matmul {n}x{n} {str(dtype).split('.')[-1]}", 2 * n**3 / seconds / 1e9, "GFLOP/s")


def sequential_decode(video: Path, threads: int = 0) -> int:
    """PyAV decoding every frame in order, no RGB: the reference the decode plan is held to."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = "AUTO", threads
        return sum(1 for _ in container.decode(stream))


def decode_and_faces(video: Path, measure: bool = True) -> list[np.ndarray]:
    """Decode and face rows; returns 16 face clips of the video (calibration and agreement inputs)."""
    reader = VideoReader(video)
    faces = ServiceSettings().faces
    detector = make_detector(faces)
    clips, _ = extract_clips(reader, ClipParams(clips_per_video=16, faces=faces), detector)
    if not measure:
        return [c.pixels for c in clips]
    starts = plan_clip_starts(reader.num_frames, ClipParams(clips_per_video=8))
    windows = [list(range(s, s + 16)) for s in starts]
    for threads in (1, 0):
        label = "1 thread" if threads == 1 else "threads: auto"
        whole = median_time(lambda t=threads: sequential_decode(video, t))
        plan = median_time(lambda t=threads: list(VideoReader(video, threads=t).windows(windows)))
        row("decode", f"one sequential decode of every frame, {label}", whole, "s", 1.0)
        row("decode", f"8 windows x 16 frames by the decode plan, {label}", plan, "s", plan / whole)
    scale = working_scale(reader.info.height, reader.info.width, detector.min_face_px, faces.min_face_px,
                          faces.base_side)  # fmt: skip
    frame = reader.get([100])[0]
    row("faces", f"YuNet, one frame at {round(1280 * scale)}x{round(720 * scale)}",
        median_time(lambda: detect_faces(detector, frame, scale), repeats=9), "s/frame")  # fmt: skip
    timings: dict[str, float] = {}
    params = ClipParams(clips_per_video=16, faces=faces)
    extract_clips(reader, params, detector, timings=timings, ahead=0)  # in turns: the face stage alone
    row("faces", "find, track, link, crop (per clip window)", timings["faces_s"] / 16, "s/clip")
    return [c.pixels for c in clips]


def model_paths(name: str, scratch: dict, clips: np.ndarray, quick: bool, measure: bool = True) -> dict:
    """Seconds per clip for every inference path of one architecture; returns the int8 fast model (with
    `measure` False, only that: what the service section needs)."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model, processor = build_model(ModelParams(scratch=scratch, dropout=0.0), num_frames=16, image_size=224)
    detector = Detector(model.eval(), processor)
    pixel_values = detector.preprocessing(clips).numpy()
    ov_model = fp.convert(model, pixel_values)
    int8 = fp.FastModel(fp.quantize_int8(ov_model, pixel_values), "int8")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(pixel_values=torch.as_tensor(pixel_values[:1]))
    gflop = counter.get_total_flops() / 1e9
    big = {"detector": detector, "int8": int8, "gflop": gflop, "pixel_values": pixel_values}
    if not measure:
        return big
    row(name, "work per clip", gflop, "GFLOP")
    one, repeats = pixel_values[:1], 1 if quick else 3
    reference = detector.score_reference(clips, batch_size=1)

    def timed(label: str, logits_of) -> None:
        seconds = median_time(lambda: logits_of(one), repeats)
        p = np.concatenate([fp.p_fake_from_logits(logits_of(pixel_values[i : i + 1])) for i in range(len(clips))])
        ratio = seconds / base if label != "torch fp32 (SDPA)" else 1.0
        row(name, label, seconds, "s/clip", ratio, f"max abs p_fake diff {np.abs(p - reference).max():.4f}")

    def torch_logits(x: np.ndarray, bf16: bool = False) -> np.ndarray:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(pixel_values=torch.as_tensor(x)).logits.float().numpy()

    base = median_time(lambda: torch_logits(one), repeats)
    timed("torch fp32 (SDPA)", torch_logits)
    timed("torch bf16 autocast", lambda x: torch_logits(x, bf16=True))
    import openvino as ov

    fp32 = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    timed("OpenVINO fp32", lambda x: np.asarray(fp32(x)[0]))
    timed("OpenVINO bf16", fp.FastModel(ov_model, "bf16").logits)
    timed("OpenVINO int8 (NNCF; bf16 elsewhere)", int8.logits)
    for label, session in onnx_runtime(model, pixel_values):
        timed(f"ONNX Runtime {label}", lambda x, s=session: s.run(None, {"x": x})[0])
    return big


def onnx_runtime(model, pixel_values: np.ndarray):
    """(label, session) for ONNX Runtime fp32 and dynamic int8 of the same model."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model_int8.onnx"
        example = (torch.as_tensor(pixel_values[:1]),)
        torch.onnx.export(fp.logits_only(model), example, str(fp32), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "b"}}, opset_version=17)  # fmt: skip
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        sessions = [(label, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
                    for label, path in (("fp32", fp32), ("int8 (dynamic)", int8))]  # fmt: skip
    yield from sessions


def demo_auc_change() -> None:
    """Video-level AUC on the demo test split: torch fp32 vs the fast paths, the demo model and a B-sized one."""
    try:
        from zenml.client import Client

        os.environ.setdefault("ZENML_CONFIG_PATH", str(REPO / ".cache" / "zenml"))
        dataset = Client().get_artifact_version("clip_dataset").load()
        store = REPO / ".cache" / "bentoml" / "models" / "deepfake-videomae"  # the project's store, by path
        demo = Detector.load(store / (store / "latest").read_text().strip(), backend="torch")
    except Exception as exc:  # no demo run in this checkout
        print(f"  (no demo dataset/model: run `make demo` for the AUC rows; {type(exc).__name__})")
        return
    from sklearn.metrics import roc_auc_score

    from deepfake_detection.metrics.video_rule import video_scores

    test = dataset.split("test")
    clips = np.stack([np.asarray(dataset.load_clip(p)) for p in test.clip_path])
    val, _ = fp.calibration_clips(dataset, 64)
    torch.manual_seed(0)
    big, processor = build_model(ModelParams(scratch=VIDEOMAE_B, dropout=0.0), 16, 224)
    for name, detector, n in (("demo model", demo, len(clips)), ("VideoMAE-B", Detector(big.eval(), processor), 48)):
        table = test.iloc[:n]

        def video_auc(p: np.ndarray, table=table) -> float:
            videos = video_scores(table.assign(p_fake=p))
            return float(roc_auc_score(videos["is_fake"], videos["p_fake"]))

        scores = detector.score_reference(clips[:n], batch_size=4)
        reference = video_auc(scores)
        calibration = detector.preprocessing(val if n == len(clips) else val[:16]).numpy()
        converted = fp.convert(detector.model, calibration)
        for precision in ("bf16", "int8"):
            source = fp.quantize_int8(converted, calibration) if precision == "int8" else converted
            auc = video_auc(fp.FastModel(source, precision).score(detector.preprocessing, clips[:n], batch_size=4))
            row(
                "AUC",
                f"{name}, {n} test clips, OpenVINO {precision}",
                abs(auc - reference),
                "AUC change",
                note=f"video AUC {reference:.4f} -> {auc:.4f}; torch p_fake spread (std) {scores.std():.4f}",
            )


def end_to_end(videos: dict[str, Path], variants: list[fp.FastModel], detector: Detector, quick: bool) -> None:
    """The real service with a VideoMAE-B-sized model, once per fast path in `variants` (plain int8 and int8 with
    the strongest default merge schedule), at 4 and 8 clips: the first of `videos` (the 10 s 720p one) at
    concurrency 1 and 4, the others (a 10 s 1080p DFDC sample, when there) at concurrency 1."""
    from deepfake_detection.registry import export_to_bentoml

    for fast in variants:
        check = fp.FastPathCheck(backend="openvino", precision=fast.precision, clips=0, max_p_diff=0.0,
                                 mean_p_diff=0.0, auc_reference=None, auc_fast=None, seconds_per_clip_reference=0,
                                 seconds_per_clip_fast=0, tolerance_p=0.01, tolerance_auc=0.005, passed=True,
                                 reason="bench: agreement measured in the model and token merging rows",
                                 token_merging=fast.merging)  # fmt: skip
        detector.info = {
            "trained_on": "nothing (random VideoMAE-B-sized weights, benchmark)",
            "fast_path": check.model_dump(),
        }
        detector.fast = fast
        name = "bench-videomae-b-tome" if fast.merging else "bench-videomae-b"
        export_to_bentoml(detector, "benchmark", {"stage": "production"}, name=name)
        for clips_per_video in (4, 8):
            served(name, clips_per_video, videos, quick)


def served(name: str, clips_per_video: int, videos: dict[str, Path], quick: bool) -> None:
    """Rows of one `bentoml serve` of model `name` at `clips_per_video` (see `end_to_end`)."""
    import requests

    from serving.local_server import bentoml_server, process_tree_rss

    with tempfile.TemporaryDirectory() as tmp:
        settings = {"model_tag": f"{name}:latest", "clips_per_video": clips_per_video, "max_concurrency": 16,
                    "request_timeout_s": 600, "request_log_dir": str(Path(tmp) / "log")}  # fmt: skip
        with bentoml_server(settings, Path(tmp)) as server:
            backend = requests.get(f"{server.url}/model", timeout=5).json()["backend"]
            first_label, first = next(iter(videos.items()))  # the one also run at concurrency 4
            for video in videos.values():
                post(server.url, video)  # warm-up
            peak = [process_tree_rss(server.pid)]
            idle = peak[0]
            stop = threading.Event()

            def sample(pid=server.pid, peak=peak, stop=stop):
                while not stop.wait(0.5):
                    peak.append(process_tree_rss(pid))

            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            rates = {}
            # every video at concurrency 1 first, then the first at 4: no row follows the queue a burst leaves
            runs = [(label, video, 1) for label, video in videos.items()] + [(first_label, first, 4)]
            for label, video, concurrency in runs:
                n = concurrency * (1 if quick else 2)
                t0 = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    answers = list(pool.map(lambda _, v=video: post(server.url, v), range(n)))
                wall = time.perf_counter() - t0
                rates[label, concurrency] = n / wall
                latency = statistics.median(a["latency_s"] for a in answers)
                split = {k: statistics.median(a["timings"].get(k, 0.0) for a in answers)
                         for k in ("probe_s", "decode_s", "faces_s", "features_s", "model_s")}  # fmt: skip
                pre = split["probe_s"] + split["decode_s"] + split["faces_s"] + split["features_s"]
                scored = statistics.median(sum(len(f["timeline"]) for f in a["faces"]) for a in answers)
                row(
                    "service",
                    f"{label}, {clips_per_video} clips, concurrency {concurrency}, {backend}",
                    latency,
                    "s p50",
                    note=(
                        f"decode {split['decode_s']:.2f} faces {split['faces_s']:.2f} "
                        f"features {split['features_s']:.2f} model {split['model_s']:.2f} s; "
                        f"{scored:.0f} clips scored; preprocessing {pre / latency:.0%}; "
                        f"{rates[label, concurrency]:.2f} req/s"
                    ),
                )
            stop.set()
            watcher.join()
            row("service", f"{clips_per_video} clips, throughput c4 / c1, {backend}",
                rates[first_label, 4] / rates[first_label, 1], "x",
                note=f"memory {idle / 2**30:.2f} GiB idle, {max(peak) / 2**30:.2f} GiB peak")  # fmt: skip


def post(url: str, video: Path) -> dict:
    import requests

    t0 = time.perf_counter()
    with video.open("rb") as f:
        resp = requests.post(f"{url}/detect", files={"video": ("v.mp4", f, "video/mp4")}, timeout=600)
    resp.raise_for_status()
    return {**resp.json(), "latency_s": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, noisier numbers)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, help="what to measure")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    # the benchmark's VideoMAE-B-sized model goes to a BentoML home of its own (set before bentoml is imported)
    home = tempfile.TemporaryDirectory(prefix="bench-bentoml-")
    os.environ["BENTOML_HOME"] = home.name
    info = machine()
    print(f"machine: {info}", flush=True)
    matmul_throughput()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_720p_video(Path(tmp) / "720p_10s.mp4")
        clips = np.stack(decode_and_faces(video, "decode" in args.sections))
        if "decode" in args.sections:
            subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_footage.py"),
                            *(["--repeats", "1"] if args.quick else [])], check=True)  # fmt: skip
        big = None
        if "model" in args.sections or "service" in args.sections:
            big = model_paths("VideoMAE-B", VIDEOMAE_B, clips[:8], args.quick, "model" in args.sections)
        if "model" in args.sections:
            model_paths("demo model", DEMO, clips[:8], args.quick)
        if "auc" in args.sections:
            demo_auc_change()
        if "service" in args.sections:
            import bench_token_merging

            strongest = fp.FastPathConfig().token_merging[-1]
            merged = bench_token_merging.int8_model(big["detector"], big["pixel_values"], strongest)
            dfdc = sorted((REPO.parent / "shared" / "dfdc_sample").glob("*.mp4"))[:1]
            videos = {"10 s 720p": video, **{f"10 s 1080p DFDC {p.stem}": p for p in dfdc}}
            end_to_end(videos, [big["int8"], merged], big["detector"], args.quick)
    if "tome" in args.sections:
        import bench_token_merging

        bench_token_merging.run(row, args.quick)
    if "evidence" in args.sections:  # Content Credentials, container facts and audio per upload (target <= 50 ms)
        import bench_evidence

        bench_evidence.measure(row, args.quick)
    peak = {dtype: next(r["value"] for r in ROWS if r["item"].startswith("matmul") and dtype in r["item"])
            for dtype in ("float32", "bfloat16")}  # fmt: skip
    for r in ROWS:
        if big and r["section"] == "VideoMAE-B" and r["unit"] == "s/clip":
            achieved = big["gflop"] / r["value"]
            r["note"] += f"; {achieved:.0f} GFLOP/s = {achieved / peak['float32']:.0%} of fp32 matmul, "
            r["note"] += f"{achieved / peak['bfloat16']:.0%} of bf16 matmul"
    print("\n| section | what | value | x reference | note |\n|---|---|---|---|---|")
    for r in ROWS:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ""
        print(f"| {r['section']} | {r['item']} | {r['value']:.4g} {r['unit']} | {ratio} | {r['note']} |")
    (OUT / "bench.json").write_text(json.dumps({"machine": info, "rows": ROWS}, indent=1))
    print(f"\nwritten: {OUT / 'bench.json'}")


if __name__ == "__main__":
    main()

"""Benchmark the BentoML service: p50/p95 latency and requests/s for a 10 s 720p video.

Starts `bentoml serve` twice on loopback (adaptive batching on, then off) with the latest exported model in the
project's BentoML store (run `make demo` first), and posts the same video at concurrency 1, 4 and 16. Then the
cost of a challenger in shadow (issue 19): the service with `shadow: off` and with `shadow: version:1` (the
registry's first version, which `make demo` archives after its continuous-training run), started in turn,
`--shadow-requests` each at concurrency 1, in alternating blocks so both see the same machine; p50 of each.
Prints tables; nothing is asserted.

Usage: python benchmarks/bench_serving.py [--requests-per-client 2] [--levels 1 4 16] [--shadow version:1|off]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.datasets.demo import carphone_path, write_video  # noqa: E402
from deepfake_detection.media.reader import VideoReader  # noqa: E402
from serving.local_server import bentoml_server  # noqa: E402


def make_720p_video(path: Path, seconds: int = 10, fps: int = 25) -> Path:
    """The carphone face (a real person) upscaled into a 1280x720 frame, looped to `seconds`."""
    from PIL import Image

    src = VideoReader(carphone_path()).get(range(96))
    frames = []
    for i in range(seconds * fps):
        f = src[i % 96 if (i // 96) % 2 == 0 else 95 - i % 96]
        big = np.asarray(Image.fromarray(f).resize((880, 720)))
        canvas = np.zeros((720, 1280, 3), dtype=np.uint8)
        canvas[:, 200:1080] = big
        frames.append(canvas)
    write_video(path, np.stack(frames), crf=23, fps=fps, gop=2 * fps)  # a key frame every 2 s, as phones and
    return path  # streaming services write them (x264's default, 10 s, would make every seek decode ~5 s)


def run_level(url: str, video: Path, concurrency: int, per_client: int) -> dict:
    def one(_: int) -> tuple[float, int]:
        t0 = time.monotonic()
        with video.open("rb") as f:
            status = requests.post(f"{url}/detect", files={"video": ("v.mp4", f, "video/mp4")}, timeout=600).status_code
        return time.monotonic() - t0, status

    t0 = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(concurrency * per_client)))
    wall = time.monotonic() - t0
    lat = np.array([t for t, s in results if s == 200])
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "ok": int((np.array([s for _, s in results]) == 200).sum()),
        "p50_s": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p95_s": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
        "req_per_s": len(lat) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--shadow", default="version:1", help="the challenger to measure in shadow; off: skip")
    parser.add_argument("--shadow-requests", type=int, default=8, help="requests per setting, concurrency 1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = make_720p_video(tmp / "720p_10s.mp4")
        print(f"video: 1280x720, 10 s, {video.stat().st_size / 1e6:.1f} MB", flush=True)
        rows = []
        for batching in (True, False):
            folder = tmp / f"batching_{batching}"
            folder.mkdir()
            settings = {"adaptive_batching": batching, "max_concurrency": 64, "max_latency_ms": 1000,
                        "request_log_dir": str(folder / "log"), "request_timeout_s": 600}  # fmt: skip
            with bentoml_server(settings, folder) as server:
                run_level(server.url, video, 1, 1)  # warm-up
                for level in args.levels:
                    result = run_level(server.url, video, level, args.requests_per_client)
                    row = {"adaptive_batching": batching, **result}
                    rows.append(row)
                    print(row, flush=True)
        if args.shadow != "off":
            shadow_rows(tmp, video, args.shadow, args.shadow_requests)
    print("\n| batching | concurrency | requests | ok | p50 s | p95 s | req/s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {'on' if r['adaptive_batching'] else 'off'} | {r['concurrency']} | {r['requests']} | {r['ok']} | "
              f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['req_per_s']:.2f} |")  # fmt: skip


def shadow_rows(tmp: Path, video: Path, challenger: str, requests_each: int, block: int = 2) -> None:
    """p50 at concurrency 1 with the challenger off and on; two servers up at once, requests alternating in
    blocks between them (so a slow phase of the machine falls on both)."""
    latencies: dict[str, list[float]] = {"off": [], challenger: []}
    with contextlib.ExitStack() as stack:
        servers = {}
        for mode in latencies:
            folder = tmp / f"shadow_{mode.replace(':', '_')}"
            folder.mkdir()
            settings = {"shadow": mode, "request_log_dir": str(folder / "log"), "request_timeout_s": 600}
            servers[mode] = stack.enter_context(bentoml_server(settings, folder))
            run_level(servers[mode].url, video, 1, 1)  # warm-up (and the challenger loaded)
        for i in range(2 * requests_each):
            mode = list(latencies)[(i // block) % 2]
            one = run_level(servers[mode].url, video, 1, 1)  # one request: its p50 is its latency
            if one["ok"]:
                latencies[mode].append(one["p50_s"])
            time.sleep(1.0)  # the challenger's background work of the last request is not the next one's queue
        stats = requests.get(f"{servers[challenger].url}/model", timeout=30).json().get("shadow")
    off, on = (float(np.median(latencies[m])) for m in latencies)
    print(f"\n| shadow | requests | p50 s |\n|---|---|---|\n| off | {len(latencies['off'])} | {off:.2f} |")
    print(f"| {challenger} | {len(latencies[challenger])} | {on:.2f} ({100 * (on / off - 1):+.1f} %) |")
    print(f"challenger stats from /model: {stats}")
    if not (stats or {}).get("scored"):  # e.g. run outside `make` (no ZENML_CONFIG_PATH): no registry, no challenger
        print(f"NOT A SHADOW MEASUREMENT: the challenger scored nothing ({(stats or {}).get('error')})")


if __name__ == "__main__":
    main()

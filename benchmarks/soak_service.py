"""The service's memory over a soak of mixed uploads (a benchmark, not a test).

    .venv/bin/python benchmarks/soak_service.py [--requests 100] [--concurrency 2]

Starts `bentoml serve` on loopback with the served model of this checkout (`make demo` exports it; without it a
tiny untrained model of the same shape is exported to a temporary store, and the output says so), with the
service's own settings, and posts a fixed mix in rounds: 4K, the hard uploads (edit list, non-square pixels,
damaged packets, Xvid AVI, AV1 WebM, ...), a 10 s 720p phone-style file, the DFDC samples when present, and
unreadable files. The whole process tree's resident memory (the front door, the model service, the decode
workers) is sampled every 0.2 s, both as RSS (what `ps` shows; libraries every process maps are counted once per
process) and as PSS (each shared page divided among the processes that map it: the RAM the service really takes).

Prints: memory after warm-up, the peak of each and per process role, the mean of each quarter of the run, and the
trend over the second half (MiB per 100 requests, a least-squares line through the per-request samples). Writes
`.cache/reports/bench/soak.json` (and, when a request failed with a 5xx, the server log beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()
os.environ.setdefault("BENTOML_HOME", str(REPO / ".cache" / "bentoml"))

from bench_footage import FOOTAGE, phone_style  # noqa: E402

from serving.local_server import bentoml_server, process_tree  # noqa: E402

HARD = REPO / "tests" / "fixtures" / "hard_inputs"
OUT = REPO / ".cache" / "reports" / "bench"


def uploads(folder: Path) -> list[Path]:
    FOOTAGE.mkdir(parents=True, exist_ok=True)
    phone = FOOTAGE / "phone_720p.mp4"
    if not phone.is_file():
        phone_style(phone)
    (text := folder / "notes.mp4").write_text("not a video\n")
    (empty := folder / "empty.mp4").write_bytes(b"")
    mix = [HARD / "24_uhd_3840x2160.mp4", phone, *sorted(HARD.glob("[0-9]*_*.*")), text, empty]
    mix += sorted((REPO.parent / "shared" / "dfdc_sample").glob("*.mp4"))
    return mix


ROLES = {"clip_scorer": "model service", "deepfake_detection": "front door", "spawn_main": "decode workers"}


def tree_memory(pid: int) -> dict[str, tuple[int, int]]:
    """(RSS, PSS) bytes of the server's process tree, summed per role (the decode workers together)."""
    import psutil

    roles: dict[str, tuple[int, int]] = {}
    for p in process_tree(pid):
        try:
            command, info = " ".join(p.cmdline()), p.memory_full_info()
        except psutil.Error:  # a worker replaced between listing and reading
            continue
        role = "supervisor" if p.pid == pid else next((r for k, r in ROLES.items() if k in command), "other")
        rss, pss = roles.get(role, (0, 0))
        roles[role] = (rss + info.rss, pss + info.pss)
    return roles


def total(roles: dict[str, tuple[int, int]], which: int) -> float:
    return sum(v[which] for v in roles.values()) / 2**20


def server_errors(lines: list[str], after: int = 40) -> str:
    """The server log's error records (ERROR lines, tracebacks, status=5xx) with the lines that follow each."""
    marks = [i for i, line in enumerate(lines) if "ERROR" in line or "Traceback" in line or "status=5" in line]
    keep = sorted({j for i in marks for j in range(i, min(i + after, len(lines)))})
    return "\n".join(lines[j] for j in keep) or "(no error records in the server log)"


def served_model(home: Path) -> tuple[str, str]:
    """(model tag, what it is): the checkout's exported model, else a tiny untrained one in `home` (chosen before
    BentoML is imported: it fixes its store at import)."""
    if (Path(os.environ["BENTOML_HOME"]) / "models" / "deepfake-videomae" / "latest").is_file():
        return "deepfake-videomae:latest", "the checkout's exported model"
    os.environ["BENTOML_HOME"] = str(home)
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_models import tiny_detector

    from deepfake_detection.config import ClipParams
    from deepfake_detection.registry import export_to_bentoml

    export_to_bentoml(tiny_detector(ClipParams(), layers=2), "soak model", {"stage": "production"}, name="soak-model")
    return "soak-model:latest", "a tiny untrained model (no `make demo` here)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        tag, what = served_model(folder / "bentoml")
        mix = uploads(folder)
        settings = {"model_tag": tag, "request_log_dir": str(folder / "log"), "upload_dir": str(folder / "up")}
        print(f"serving {tag} ({what}); {len(mix)} kinds of upload, {args.requests} requests at concurrency "
              f"{args.concurrency}", flush=True)  # fmt: skip
        with bentoml_server(settings, folder, bentoml_home=Path(os.environ["BENTOML_HOME"])) as server:
            samples: list[tuple[int, dict[str, tuple[int, int]]]] = []  # (requests done, memory per role)
            done = [0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append((done[0], tree_memory(server.pid)))
                    time.sleep(0.2)

            def post(i: int) -> int:
                path = mix[i % len(mix)]
                with path.open("rb") as f:
                    resp = requests.post(f"{server.url}/detect", files={"video": (path.name, f)}, timeout=600)
                done[0] += 1
                return resp.status_code

            idle = tree_memory(server.pid)
            post(1)  # warm-up: decoders and the model loaded
            warm = tree_memory(server.pid)
            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            t0 = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                statuses = list(pool.map(post, range(args.requests)))
            wall = time.monotonic() - t0
            stop.set()
            watcher.join()
            if any(s >= 500 for s in statuses):  # say why, from the server's own log
                log = server.log_path.read_text()
                OUT.mkdir(parents=True, exist_ok=True)
                (OUT / "soak-server.log").write_text(log)  # the whole log, kept past the temporary folder
                print(server_errors(log.splitlines()), f"\n(the whole server log: {OUT / 'soak-server.log'})")
    rss = np.array([total(s[1], 0) for s in samples])
    pss = np.array([total(s[1], 1) for s in samples])
    count = np.array([s[0] for s in samples], dtype=float)
    second = count >= args.requests / 2
    slope = {name: float(np.polyfit(count[second], m[second], 1)[0] * 100) if second.sum() > 2 else float("nan")
             for name, m in (("rss", rss), ("pss", pss))}  # fmt: skip
    roles = sorted({r for _, m in samples for r in m})
    per_role = {r: [round(max(m.get(r, (0, 0))[i] for _, m in samples) / 2**20) for i in (0, 1)] for r in roles}
    result = {
        "model": tag, "model_is": what, "requests": args.requests, "concurrency": args.concurrency,
        "wall_s": wall, "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "idle_rss_pss_mib": [round(total(idle, i)) for i in (0, 1)],
        "after_warm_up_rss_pss_mib": [round(total(warm, i)) for i in (0, 1)],
        "peak_rss_mib": float(rss.max()), "peak_pss_mib": float(pss.max()),
        "peak_per_role_rss_pss_mib": per_role,
        "quarter_means_rss_mib": [round(float(q.mean())) for q in np.array_split(rss, 4)],
        "quarter_means_pss_mib": [round(float(q.mean())) for q in np.array_split(pss, 4)],
        "second_half_trend_mib_per_100_requests": {k: round(v, 1) for k, v in slope.items()},
    }  # fmt: skip
    for key, value in result.items():
        print(f"  {key}: {value:.0f}" if isinstance(value, float) else f"  {key}: {value}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""What a challenger in shadow costs the answer: p50 latency at concurrency 1, shadow off against on.

The service's process layout, without the service (its wiring is `serving/service.py`'s): two decode worker
processes cut the clips (`scoring.analyze.extract_video`), one scorer process holds the production model (BentoML's
ClipScorer), and this process is the front door, where `serving.shadow.ShadowScorer` runs its thread; a request's
latency is decode + score + decide, and the clips go to the challenger after it. Blocks of requests alternate
off / on in one run, so both see the same machine load. Prints numbers; asserts nothing.

Usage (after make demo): python scripts/bench_shadow.py [--requests 12] [--model deepfake-videomae:latest]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

_SCORER = None


def _load_scorer(folder: str) -> None:
    global _SCORER
    from deepfake_detection.modeling.detector import Detector

    _SCORER = Detector.load(folder)


def _score(pixels: np.ndarray) -> np.ndarray:
    return _SCORER.score(pixels)


def _warm() -> None:
    import deepfake_detection.scoring.analyze  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12, help="requests per setting")
    parser.add_argument("--model", default="deepfake-videomae:latest", help="BentoML tag of production")
    parser.add_argument("--challenger", default=None, help="BentoML tag of the challenger (default: the same)")
    args = parser.parse_args()

    import bentoml

    from benchmarks.bench_serving import make_720p_video
    from deepfake_detection.config import model_geometry
    from deepfake_detection.modeling.detector import Detector
    from deepfake_detection.scoring.analyze import decide, extract_video
    from deepfake_detection.service_settings import ServiceSettings
    from serving.shadow import ShadowJob, ShadowScorer

    settings = ServiceSettings.load()
    production = bentoml.models.get(args.model)
    challenger = bentoml.models.get(args.challenger or args.model)
    threshold, info = Detector.read_meta(production.path)
    params = settings.clip_params(model_geometry(info) or {})
    with tempfile.TemporaryDirectory() as tmp:
        video = make_720p_video(Path(tmp) / "bench.mp4")
        shadow = ShadowScorer("version:bench", tmp, settings.shadow_queue,
                              loader=lambda: (Detector.load(challenger.path), str(challenger.tag))).start()  # fmt: skip
        with (ProcessPoolExecutor(settings.decode_workers, initializer=_warm) as decode,
              ProcessPoolExecutor(1, initializer=_load_scorer, initargs=(production.path,)) as scorer):  # fmt: skip
            while not shadow.ready:
                time.sleep(0.1)

            def request(with_shadow: bool, i: int) -> float:
                t0 = time.monotonic()
                extracted = decode.submit(extract_video, str(video), params, settings.limits).result()
                pixels = extracted.pixels()
                scores = scorer.submit(_score, pixels).result()
                verdict = decide(extracted, scores, threshold)
                seconds = time.monotonic() - t0
                seen.update(persons=len(verdict.faces), clips=len(pixels))
                if with_shadow:  # after the answer, as the service's background task does
                    shadow.submit(ShadowJob(f"r{i}", pixels, [c.face_index for c in extracted.clips], "p",
                                            verdict.p_fake))  # fmt: skip
                return seconds

            seen: dict[str, int] = {}
            request(False, -1)  # warm-up: models loaded, decoders started
            latency: dict[bool, list[float]] = {False: [], True: []}
            block = 3
            for i in range(2 * args.requests):
                on = (i // block) % 2 == 1
                latency[on].append(request(on, i))
            shadow.close(timeout=120)
    off, on = np.median(latency[False]), np.median(latency[True])
    stats = shadow.stats()
    print(f"production {production.tag} ({Detector.backend_of(production.path, info)}), challenger {challenger.tag};"
          f" {seen['persons']} person(s), {seen['clips']} clips per request, concurrency 1")  # fmt: skip
    print(f"shadow off: p50 {off:.3f} s over {len(latency[False])} requests")
    print(f"shadow on : p50 {on:.3f} s over {len(latency[True])} requests ({100 * (on / off - 1):+.1f} %)")
    print(f"challenger: {stats['scored']} scored, {stats['dropped_full']} dropped (queue full), median "
          f"{stats['median_seconds']:.3f} s per request in the background")  # fmt: skip


if __name__ == "__main__":
    main()

"""What reading an upload's evidence costs (target: <= 50 ms per upload), per file, medians after a warm-up.

    .venv/bin/python benchmarks/bench_evidence.py [--quick]     (also section `evidence` of `make bench`)

Files: the signed face videos of the tests (made on the fly with the SDK's test keys: declared AI, AI-edited,
camera capture, tampered, garbage in the manifest box, no manifest), the C2PA SDK's own samples, and the
FaceForensics++ and DFDC samples beside the checkout when present (and the largest of them signed here: a
signed file's verification hashes all its media data, about 2 ms per MB on the development machine). Per file:

- `provenance`: the C2PA read and verification (`read_provenance`: hashes the media data of a signed file);
- `in the probe`: what the evidence adds inside the probe, which has the container open and demuxes it anyway:
  `container_facts` plus an `AudioTally` fed every packet of a demux pass (the pass itself is the probe's);
- `read_evidence`: everything from a path with its own PyAV open (the CLI, batch scoring); FFmpeg's own open
  (it reads the stream headers and probes the first frames) is most of it, and the probe pays it anyway;
- per upload as wired: provenance + in the probe (the target's number).

The first call in a process also loads the C2PA library (printed once). Nothing here decodes a frame (FFmpeg's
own open aside).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # c2pa_videos: the signed fixtures

from bench import median_time  # noqa: E402  (the benchmarks' one timer: median of repeats after a warm-up)

TARGET_MS = 50.0


def files(folder: Path) -> dict[str, Path]:
    """The benchmark's files: signed fixtures made under `folder`, the SDK samples, the real samples if present."""
    from c2pa_videos import IPTC, KEYS, make_c2pa_videos, manifest, sign

    from deepfake_detection.datasets.demo import carphone_path

    out = {f"fixture {k}": v for k, v in make_c2pa_videos(folder, carphone_path()).items()}
    out |= {
        "SDK video1.mp4 (signed)": KEYS / "video1.mp4",
        "SDK video1_no_manifest.mp4": KEYS / "video1_no_manifest.mp4",
    }
    shared = REPO.parent / "shared"
    real = []
    for name in ("ffpp_sample", "dfdc_sample"):
        for path in sorted((shared / name).glob("**/*.mp4"))[:4]:
            out[f"{name} {path.name}"] = path
            real.append(path)
    if real:  # a real-sized signed file: verification hashes all its media data
        largest = max(real, key=lambda p: p.stat().st_size)
        signed = sign(largest, folder / f"signed_{largest.name}", manifest(largest.name, [
            {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]))  # fmt: skip
        out[f"{largest.name} signed here"] = signed
    return out


def in_probe(path: Path) -> Callable[[], object]:
    """The evidence's share of a probe: facts of the open container and the audio tally over its demux pass."""
    import av

    from deepfake_detection.evidence import AudioTally, container_facts

    def run() -> None:
        with av.open(str(path), metadata_errors="ignore") as container:
            packets = list(container.demux())  # the probe's own pass, not timed below
            t0 = time.perf_counter()
            tally = AudioTally.for_container(container)
            first = next((bytes(p) for p in packets if p.stream.type == "video" and p.size), None)
            for packet in packets if tally else ():
                tally.add(packet)
            container_facts(container, first)
            if tally:
                tally.track(1.0, 0.0)
            run.seconds = time.perf_counter() - t0

    run.seconds = 0.0
    return run


def measure(row: Callable[..., None], quick: bool = False) -> list[dict]:
    """Time every file; report each through `row(section, item, value, unit, ratio, note)` (bench.py's)."""
    from deepfake_detection.evidence import read_evidence, read_provenance

    repeats = 3 if quick else 9
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        chosen = files(Path(tmp))
        first = next(iter(chosen.values()))
        read_provenance(first)  # loads the C2PA library: once per process
        row("evidence", "first C2PA read in a process (library load)", (time.perf_counter() - t0) * 1000, "ms",
            note="includes making the signed fixtures")  # fmt: skip
        results = []
        for name, path in chosen.items():
            provenance = median_time(lambda p=path: read_provenance(p), repeats) * 1000
            probe_part = in_probe(path)
            samples = []
            for _ in range(repeats):
                probe_part()
                samples.append(probe_part.seconds * 1000)
            probe_ms = statistics.median(samples)
            whole = median_time(lambda p=path: read_evidence(p, 1.0), repeats) * 1000
            wired = provenance + probe_ms
            state = read_provenance(path).state
            size = path.stat().st_size / 1e6
            note = (f"{size:.2f} MB, {state}; provenance {provenance:.1f} ms + in the probe {probe_ms:.2f} ms; "
                    f"read_evidence from a path {whole:.1f} ms")  # fmt: skip
            row("evidence", f"{name}", wired, "ms/upload", wired / TARGET_MS, note)
            results.append({"file": name, "mb": size, "state": state, "provenance_ms": provenance,
                            "in_probe_ms": probe_ms, "read_evidence_ms": whole, "per_upload_ms": wired})  # fmt: skip
    worst = max(r["per_upload_ms"] for r in results)
    row("evidence", "worst file, per upload as wired", worst, "ms/upload", worst / TARGET_MS,
        f"target {TARGET_MS:.0f} ms ({'met' if worst <= TARGET_MS else 'MISSED'})")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()

    def row(section, item, value, unit, ratio=None, note=""):
        shown = f"{value:.3g} {unit}" + (f" ({ratio:.2f}x target)" if ratio is not None else "")
        print(f"  {item:44s} {shown:28s} {note}", flush=True)

    measure(row, args.quick)


if __name__ == "__main__":
    main()

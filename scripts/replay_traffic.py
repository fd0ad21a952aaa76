"""Replay videos through a real `bentoml serve` so its request log holds served traffic (make demo uses it).

`matching`: the demo's test-split videos as they are (traffic like the training data).
`shifted`: the same videos downscaled to half size and re-encoded at CRF 45 (lower resolution, heavier
compression), the shift a detector trained on FF++ c23 silently degrades under.

Usage: python scripts/replay_traffic.py --kind matching --log-dir .cache/demo_traffic/matching

Each answered request is listed in `<log-dir>/replayed.jsonl` (request id, the video posted, its demo label) and
with `--keep-videos` the posted files stay in `<log-dir>/videos/`: `scripts/simulate_reviews.py` reviews them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.datasets.demo import write_video  # noqa: E402
from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog  # noqa: E402
from deepfake_detection.media.reader import VideoReader  # noqa: E402
from serving.local_server import bentoml_server  # noqa: E402


def degrade(src: Path, dst: Path, scale: float = 0.5, crf: int = 45) -> Path:
    reader = VideoReader(src)
    write_video(dst, reader.get(range(reader.num_frames)), crf=crf, scale=scale)
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["matching", "shifted"], required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--ffpp-root", default=".cache/demo_ffpp")
    parser.add_argument("--split", default="test")
    parser.add_argument("--keep-videos", action="store_true", help="keep the posted files in <log-dir>/videos")
    args = parser.parse_args()
    root = Path(args.ffpp_root)
    catalog = build_catalog(root, splits=OfficialSplits.load(root / "splits"))
    test = catalog[catalog.split == args.split].reset_index(drop=True)
    videos = [Path(p) for p in test.path]
    with tempfile.TemporaryDirectory() as tmp:
        if args.kind == "shifted":
            videos = [degrade(v, Path(tmp) / f"{i}.mp4") for i, v in enumerate(videos)]
        retained = Path(args.log_dir).resolve().parent / "retained_clips"  # on in the demo (a privacy choice)
        settings = {"request_log_dir": str(Path(args.log_dir).resolve()), "max_concurrency": 16,
                    "retention": {"enabled": True, "days": 7, "clip_store": str(retained)}}  # fmt: skip
        with bentoml_server(settings, Path(tmp)) as server:

            def post(video: Path) -> requests.Response:
                with video.open("rb") as f:
                    return requests.post(f"{server.url}/detect", files={"video": f}, timeout=600)

            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(post, videos))
        statuses = [a.status_code for a in answers]
        kept = Path(args.log_dir) / "videos"
        kept.parent.mkdir(parents=True, exist_ok=True)
        with (Path(args.log_dir) / "replayed.jsonl").open("w") as out:
            for i, (video, answer) in enumerate(zip(videos, answers, strict=True)):
                if answer.status_code != 200:
                    continue
                if args.keep_videos and video.is_relative_to(tmp):  # a degraded copy: gone with the temp dir
                    kept.mkdir(exist_ok=True)
                    video = Path(shutil.copy(video, kept / video.name))
                row = {"request_id": answer.json()["request_id"], "kind": args.kind, "video": str(video),
                       "label": test.label[i], "method": test.method[i]}  # fmt: skip
                out.write(json.dumps(row) + "\n")
    print(f"replayed {len(videos)} {args.kind} videos: {statuses.count(200)} answered 200, "
          f"others {sorted(set(statuses) - {200})}; log in {args.log_dir}")  # fmt: skip


if __name__ == "__main__":
    main()

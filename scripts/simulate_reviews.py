"""The demo's reviewers, SIMULATED: the replayed traffic reviewed from the demo's own labels, its clips retained.

`make demo` replays the demo's test videos through the real service (`scripts/replay_traffic.py`); no person
reviews them, so this script does what reviewers and retention would do, and says so everywhere: every review has
`source = "simulated"`, the reviewer "simulated reviewer (demo labels)" and a note naming the demo label, and the
reviewed dataset, the registry metadata and the summary carry the flag on.

Retained clips: with `retention.enabled` the service keeps each request's face clips itself (`serving/service.py`,
after the answer). The demo's replay runs with retention off, so this script cuts them from the very file each
request posted, with the clip parameters the service used (the served model's geometry, the serving settings'
windows and faces) and the same library function (`scoring.analyze.extract_video`), and stores them with
`feedback.retention.retain_clips`, as the service does. A request whose clips are already retained is not cut again.

Usage: python scripts/simulate_reviews.py --traffic .cache/demo_traffic
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()

REVIEWER = "simulated reviewer (demo labels)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traffic", default=".cache/demo_traffic", help="folder of replay logs (replayed.jsonl)")
    parser.add_argument("--reviews-url", default="sqlite:///.cache/demo_traffic/reviews.sqlite")
    parser.add_argument("--retained", default=".cache/demo_traffic/retained_clips", help="retained clip store")
    parser.add_argument("--days", type=float, default=7.0, help="retention period of the clips")
    parser.add_argument("--settings", default=None, help="serving settings (default: configs/serving.yaml)")
    parser.add_argument("--seed", type=int, default=0, help="order of the reviews (the split is by review time)")
    args = parser.parse_args()

    import bentoml

    from deepfake_detection.config import model_geometry
    from deepfake_detection.feedback.retention import retain_clips, retained_table
    from deepfake_detection.feedback.reviews import ReviewStore, submit_review
    from deepfake_detection.modeling.detector import Detector
    from deepfake_detection.scoring.analyze import extract_video
    from deepfake_detection.service_settings import ServiceSettings

    settings = ServiceSettings.load(args.settings)
    served = bentoml.models.get(settings.model_tag)
    _, info = Detector.read_meta(served.path)
    params = settings.clip_params(model_geometry(info) or {})
    version = served.info.labels.get("zenml_model_version")
    rows = []
    for listing in sorted(Path(args.traffic).glob("*/replayed.jsonl")):
        rows += [{**json.loads(line), "log_dir": str(listing.parent)} for line in listing.read_text().splitlines()]
    if not rows:
        raise SystemExit(f"no replayed requests under {args.traffic} (run scripts/replay_traffic.py first)")
    random.Random(args.seed).shuffle(rows)  # reviews arrive in no particular order: both kinds in both splits
    retained = set(retained_table(args.retained).request_id)
    store = ReviewStore(args.reviews_url)
    cut = reviewed = 0
    for i, row in enumerate(rows):
        if row["request_id"] not in retained:
            extracted = extract_video(row["video"], params, settings.limits)
            retain_clips(args.retained, params, row["request_id"], extracted.clips, args.days, version,
                         settings.retention.clip_format)  # fmt: skip
            cut += 1
        label = "confirmed_fake" if row["label"] == "fake" else "actually_real"
        note = f"SIMULATED review: the demo's own label ({row['label']}, {row['method']}), {row['kind']} traffic"
        _, created = submit_review(store, [row["log_dir"]], row["request_id"], label, REVIEWER, note, "simulated",
                                   f"simulated-{row['request_id']}")  # fmt: skip
        reviewed += created
        if (i + 1) % 12 == 0 or i + 1 == len(rows):
            print(f"simulated reviews: {i + 1}/{len(rows)}", flush=True)
    store.close()
    print(f"{len(rows)} replayed requests: {reviewed} SIMULATED reviews stored in {args.reviews_url} (from the demo's "
          f"own labels, not from people); clips of {cut} requests retained in {args.retained} for {args.days:g} days "
          f"(cut as the service cuts them: {params.clips_per_video} windows, {params.size} px)")  # fmt: skip


if __name__ == "__main__":
    main()

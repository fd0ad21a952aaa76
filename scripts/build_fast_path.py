"""Build (or rebuild) the OpenVINO fast path of a model already in the BentoML store.

    make fast-path                     # the latest deepfake-videomae, int8, checked on the latest clip dataset
    .venv/bin/python scripts/build_fast_path.py --model deepfake-videomae:TAG --precision bf16

The training pipeline does this at export; this command is for models exported before, or to change the
precision. It calibrates and checks on validation clips of the latest `clip_dataset` artifact in the project's
ZenML store, and writes a new version of the BentoML model (same labels, the fast path beside the weights, the
check in `detector.json`); BentoML models are immutable, so the old version stays as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deepfake_detection.offline import apply_offline_env  # noqa: E402

apply_offline_env()


def main() -> None:
    import bentoml
    from zenml.client import Client

    from deepfake_detection.modeling.detector import Detector
    from deepfake_detection.modeling.fast_path import FastPathConfig, build_fast_path, calibration_clips
    from deepfake_detection.registry import export_to_bentoml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepfake-videomae:latest", help="BentoML model tag")
    parser.add_argument("--dataset", default="clip_dataset", help="ZenML artifact with the validation clips")
    parser.add_argument("--precision", choices=["auto", "int8", "bf16"], default="auto")
    parser.add_argument("--clips", type=int, default=FastPathConfig().calibration_clips)
    args = parser.parse_args()

    source = bentoml.models.get(args.model)
    detector = Detector.load(source.path, backend="torch")
    dataset = Client().get_artifact_version(args.dataset).load()
    config = FastPathConfig(precision=args.precision, calibration_clips=args.clips)
    clips, labels = calibration_clips(dataset, config.calibration_clips)
    print(f"{source.tag}: OpenVINO {config.precision}, calibrated and checked on {len(clips)} validation clips")
    check, detector.fast = build_fast_path(detector, clips, labels, config)
    detector.info["fast_path"] = check.model_dump()
    for key, value in check.model_dump().items():
        print(f"  {key}: {value}")
    card_file = Path(source.path) / "README.md"
    card = card_file.read_text() if card_file.is_file() else ""
    tag = export_to_bentoml(detector, card, labels=dict(source.info.labels), name=source.tag.name)
    print(f"{'wrote' if check.passed else 'check failed; wrote without a fast path:'} {tag}")


if __name__ == "__main__":
    main()

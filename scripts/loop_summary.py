"""Print the end of the production-to-training loop (`make demo`): the reviewed traffic, the continuous-training
decision and, when it retrained, the model it started from against the new one on the reviewed traffic."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepfake_detection.offline import apply_offline_env

apply_offline_env()


def main(model_name: str | None = None) -> None:
    from zenml.client import Client

    from deepfake_detection.feedback.online_evaluation import comparison_table, evaluate_models
    from deepfake_detection.registry import MODEL_NAME
    from steps.feedback.versions import version_detector

    name = model_name or MODEL_NAME
    client = Client()
    try:
        artifact = client.get_artifact_version("reviewed_dataset")
    except KeyError:
        print("no reviewed_dataset yet: run the deepfake_feedback pipeline")
        return
    reviewed = artifact.load()
    s = reviewed.summary()
    flag = " -- SIMULATED reviews (the demo's own labels), synthetic videos" if reviewed.simulated else ""
    print(f"\nreviewed traffic{flag}: {s['requests']} labelled requests, {s['clips']} retained clips; "
          f"{s['per_split_label']}; excluded {s['excluded'] or 'none'}")  # fmt: skip
    print(f"label rule: {reviewed.rule}")
    runs = client.list_pipeline_runs(pipeline_name="deepfake_continuous_training", sort_by="desc:created", size=1)
    if not runs.items:
        print("no continuous-training run yet")
        return
    run = runs.items[0]
    decision = run.steps["decide_retraining_step"].outputs["retraining_decision"][0].load()
    print(f"\ncontinuous training ({run.name}, {run.status}): {'RETRAINED' if decision.retrain else 'no retraining'}")
    for reason in decision.reasons:
        print(f"  - {reason}")
    if not decision.retrain or "gate_candidate" not in run.steps:
        return
    gate = run.steps["gate_candidate"].outputs["continuous_training"][0].load()
    versions = client.list_model_versions(name, size=100).items
    new = max(versions, key=lambda v: v.number)  # the version this run made
    base = decision.signals.production_version
    print(f"  gate: version {new.name} -> {gate.stage}")
    for reason in gate.reasons:
        print(f"    - {reason}")
    old = client.get_model_version(name, base)
    models = {f"v{base} (before)": (version_detector(old), base), f"v{new.name} (after)": (version_detector(new),
              str(new.name))}  # fmt: skip
    table, _ = evaluate_models(models, reviewed, n_boot=1000)
    print(f"\nv{base} against v{new.name} on the reviewed traffic{flag}:")
    print(comparison_table(table))
    print(
        f"(v{new.name} was fine-tuned on the 'train' requests of this traffic: the 'holdout' rows, the newest "
        f"reviews, are the comparison that counts; 'all' includes what v{new.name} trained on.)"
    )
    print(f"\nregistry: {', '.join(f'v{v.name}={v.stage}' for v in sorted(versions, key=lambda v: v.number))}")
    print(
        "online_evaluation and continuous_training metadata: ZENML_CONFIG_PATH=.cache/zenml .venv/bin/zenml "
        "model version list deepfake-videomae; Evidently: make dashboard"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)

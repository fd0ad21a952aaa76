"""Print what the last training run produced: the metrics table, the registry stages and where to look."""

from __future__ import annotations

from zenml.client import Client

from deepfake_detection.registry import MODEL_NAME


def main() -> None:
    client = Client()
    versions = sorted(client.list_model_versions(MODEL_NAME, size=100).items, key=lambda v: v.number)
    if not versions:
        print(f"no versions of {MODEL_NAME} yet: run the training pipeline")
        return
    latest = versions[-1]
    evaluation = latest.get_artifact("evaluation").load()
    meta = latest.run_metadata
    print(f"\n{MODEL_NAME} version {latest.name}: stage {latest.stage}")
    print(f"trained on: {meta.get('trained_on')}")
    print(f"promotion: {'; '.join(meta.get('promotion', {}).get('reasons', []))}")
    print(f"\ntest metrics at threshold {evaluation.threshold:.3f} (chosen on validation):")
    print(evaluation.table().round(3).to_string(index=False))
    lo, hi = evaluation.clip_auc_ci
    print(f"clip AUC 95% bootstrap CI: [{lo:.3f}, {hi:.3f}]")
    print("\nregistry:", ", ".join(f"v{v.name}={v.stage}" for v in versions))
    print("plots:", *sorted({p.rsplit("/", 1)[0] for p in evaluation.plots}))
    print("BentoML store: BENTOML_HOME=.cache/bentoml .venv/bin/bentoml models list")
    print("ZenML dashboard: ZENML_CONFIG_PATH=.cache/zenml .venv/bin/zenml login --local")


if __name__ == "__main__":
    main()

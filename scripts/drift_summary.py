"""Print the drift verdicts of the latest monitoring runs (the end of `make demo`)."""

from __future__ import annotations

from deepfake_detection.offline import apply_offline_env

apply_offline_env()


def main(runs: int = 2) -> None:
    from zenml.client import Client

    client = Client()
    page = client.list_pipeline_runs(pipeline_name="deepfake_monitoring", sort_by="desc:created", size=runs)
    for run in reversed(page.items):
        step = run.steps.get("drift_report")
        if step is None or str(run.status) != "completed":
            print(f"{run.name}: {run.status}")
            continue
        summary = step.outputs["drift_summary"][0].load()
        print(f"\n{run.name}:\n  {summary.headline()}")
        for c in summary.columns:
            flag = "DRIFT" if c.drifted else "ok"
            print(f"    {c.column:15s} {c.method:24s} score {c.score:9.3g} (threshold {c.threshold:g}) {flag}")
    print("\nreports: .cache/reports/drift/  dashboard: make dashboard  (http://127.0.0.1:8000)")


if __name__ == "__main__":
    main()

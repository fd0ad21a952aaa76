"""The model registry (ZenML Model Control Plane) and the export to the BentoML model store.

Promotion rule: a new version becomes `production` only if (1) the data contracts of its dataset passed,
(2) its validation and test AUC clear the configured minimums, and (3) it beats the current production
version on the same test clips, where the production model is re-scored now rather than trusted from its
old metadata. Otherwise it is `staging` and the reason is recorded. The previous production version is
archived (ZenML's `force=True`), never deleted.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from deepfake_detection.config import PromotionParams
from deepfake_detection.modeling.stored import ModelInfo

if TYPE_CHECKING:  # torch and transformers stay out of processes that only describe a model (the front door)
    from deepfake_detection.modeling.detector import Detector


MODEL_NAME = "deepfake-videomae"
DETECTOR_ARTIFACT = "detector"


class PromotionDecision(BaseModel):
    promoted: bool
    stage: str
    reasons: list[str]
    new_test_auc: float
    production_test_auc: float | None = None
    production_version: str | None = None


def decide_promotion(
    params: PromotionParams,
    contracts_passed: bool,
    val_auc: float,
    test_auc: float,
    production_auc: float | None,
    production_version: str | None = None,
) -> PromotionDecision:
    """The promotion gate as a pure function: every failed condition is listed, not just the first."""
    reasons = []
    if not contracts_passed:
        reasons.append("the dataset's data contracts did not pass")
    if not val_auc >= params.min_val_auc:
        reasons.append(f"validation AUC {val_auc:.4f} is below the minimum {params.min_val_auc}")
    if not test_auc >= params.min_test_auc:
        reasons.append(f"test AUC {test_auc:.4f} is below the minimum {params.min_test_auc}")
    if production_auc is not None and not test_auc > production_auc + params.min_improvement:
        reasons.append(
            f"test AUC {test_auc:.4f} does not beat production version {production_version} "
            f"({production_auc:.4f} on the same test clips, margin {params.min_improvement})"
        )
    promoted = not reasons
    if promoted:
        reasons.append(
            "first production version"
            if production_auc is None
            else f"beats production version {production_version} ({test_auc:.4f} > {production_auc:.4f})"
        )
    return PromotionDecision(
        promoted=promoted,
        stage="production" if promoted else "staging",
        reasons=reasons,
        new_test_auc=test_auc,
        production_test_auc=production_auc,
        production_version=production_version,
    )


def production_detector(name: str = MODEL_NAME) -> tuple[Detector, str] | None:
    """The detector artifact of the current production version and its version name, or None."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        version = Client().get_model_version(name, ModelStages.PRODUCTION)
    except KeyError:
        return None
    return version.get_artifact(DETECTOR_ARTIFACT).load(), str(version.name)


def export_to_bentoml(detector: Detector, card: str, labels: dict[str, str], name: str = MODEL_NAME) -> str:
    """Write the detector folder (safetensors, processor config, threshold, card, the fast path when it has one)
    as a BentoML model.

    Saved with `bentoml.models.create` rather than `bentoml.pytorch`, which breaks on torch's weights-only load.
    """
    import bentoml

    with tempfile.TemporaryDirectory() as tmp:
        detector.save(tmp, card=card)
        with bentoml.models.create(name, labels=labels, metadata=detector.scalar_metadata()) as model:
            shutil.copytree(tmp, model.path, dirs_exist_ok=True)
            (Path(model.path) / "provenance.json").write_text(json.dumps(detector.info, indent=1, default=str))
    return str(model.tag)


def describe_served_model(tag: str, labels: dict, info: dict) -> dict:
    """What the service tells every client about the model that produced a verdict."""
    return {
        "name": MODEL_NAME,
        "version": labels.get("zenml_model_version", "unknown"),
        "stage": labels.get("stage", "unknown"),
        "bento_tag": tag,
        "base_model": info.get("base_model", "unknown"),
        "trained_on": info.get("trained_on", "unknown"),
        "warning": ModelInfo.read(info).warning,
    }


def resolve_model_folder(model: str, name: str = MODEL_NAME) -> tuple[str, dict]:
    """A detector folder to score with, and where it came from: "production" (the registry's production
    version, as exported to the BentoML store with its fast path), "version:N" (that registry version: its
    BentoML export, else its `detector` artifact written to `.cache/models/`), a BentoML tag, or a folder.

    Raises `LookupError` naming what was looked for when nothing matches.
    """
    import bentoml

    if Path(model).is_dir():
        if not (Path(model) / "detector.json").is_file():
            raise LookupError(f"{model} is not a detector folder (no detector.json)")
        return str(Path(model).resolve()), {"source": "folder", "model": model}
    if model.startswith("version:"):
        return _registry_version_folder(name, model.split(":", 1)[1])
    if model != "production":
        try:
            bento_model = bentoml.models.get(model)
        except (bentoml.exceptions.NotFound, ValueError) as exc:
            raise LookupError(f"{model!r} is not production, version:N, a model folder or a BentoML model tag in "
                              f"this store (`bentoml models list`)") from exc  # fmt: skip
        labels = bento_model.info.labels
        return bento_model.path, {"source": "bentoml", "model": str(bento_model.tag), "stage": labels.get("stage"),
                                  "version": labels.get("zenml_model_version", "unknown")}  # fmt: skip
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        version = str(Client().get_model_version(name, ModelStages.PRODUCTION).name)
    except KeyError as exc:
        raise LookupError(f"no production version of {name} in the registry; run `make demo` first") from exc
    exported = [
        m for m in bentoml.models.list(name)
        if m.info.labels.get("zenml_model_version") == version and m.info.labels.get("stage") == "production"
    ]  # fmt: skip
    if not exported:
        raise LookupError(f"production version {version} of {name} is not in the BentoML store (not exported)")
    latest = max(exported, key=lambda m: m.info.creation_time)
    return latest.path, {"source": "registry", "model": str(latest.tag), "version": version, "stage": "production"}


def _registry_version_folder(name: str, version: str) -> tuple[str, dict]:
    import bentoml
    from zenml.client import Client

    try:
        registered = Client().get_model_version(name, version)
    except KeyError as exc:
        raise LookupError(f"no version {version} of {name} in the registry") from exc
    provenance = {"source": "registry", "model": f"{name} version {version}", "version": version,
                  "stage": str(registered.stage or "none")}  # fmt: skip
    exported = [m for m in bentoml.models.list(name) if m.info.labels.get("zenml_model_version") == version]
    if exported:
        return max(exported, key=lambda m: m.info.creation_time).path, provenance
    try:
        detector = registered.get_artifact(DETECTOR_ARTIFACT).load()
    except (KeyError, AttributeError) as exc:
        raise LookupError(f"version {version} of {name} has no detector artifact") from exc
    folder = Path(".cache/models") / f"{name}-{version}"
    if not (folder / "detector.json").is_file():
        detector.save(folder)
    return str(folder.resolve()), provenance

"""Registry look-ups the feedback steps share: a model version by stage or number, and its detector."""

from __future__ import annotations

from deepfake_detection.modeling.detector import Detector
from deepfake_detection.registry import DETECTOR_ARTIFACT


def registry_version(model_name: str, which: str):
    """The ZenML model version `which` names ("production", "staging", "version:N"), or None if there is none."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    key = which.split(":", 1)[1] if which.startswith("version:") else ModelStages(which)
    try:
        return Client().get_model_version(model_name, key)
    except KeyError:
        return None


def version_detector(version) -> Detector:
    """The `detector` artifact of a model version (raises LookupError when it has none)."""
    artifact = version.get_artifact(DETECTOR_ARTIFACT)
    if artifact is None:
        raise LookupError(f"{version.model.name} version {version.name} has no {DETECTOR_ARTIFACT} artifact")
    return artifact.load()


def version_geometry(version) -> dict | None:
    """The clip geometry the version was trained with, from its metadata (no weights loaded)."""
    training = (version.run_metadata or {}).get("training") or {}
    return training.get("clip_geometry") if isinstance(training, dict) else None

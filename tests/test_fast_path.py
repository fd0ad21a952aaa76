"""The OpenVINO fast path: agreement with torch fp32, what is stored and loaded, and a failed check."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_clips import make_clip_dataset

from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.fast_path import FastPathConfig, build_fast_path, calibration_clips
from deepfake_detection.modeling.model import ModelParams, build_model
from deepfake_detection.registry import export_to_bentoml

SMALL = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_clip_dataset(tmp_path_factory.mktemp("clips"), n_per_class=16, size=64)


@pytest.fixture(scope="module")
def detector():
    """A small VideoMAE built the way the card builds VideoMAE-B (random weights: agreement, not skill)."""
    model, processor = build_model(ModelParams(scratch=SMALL), num_frames=16, image_size=64)
    return Detector(model.eval(), processor, threshold=0.5, info={"trained_on": "nothing (test)"})


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_fast_path_agrees_with_torch_within_the_tolerance(dataset, detector, precision):
    """p_fake agreement on a VideoMAE exported the way the pipeline exports; the AUC rule is left out here:
    random weights score every clip within ~0.01 of the others, so any noise reorders them (a trained model's
    AUC agreement is asserted in test_training)."""
    clips, labels = calibration_clips(dataset, 32)
    assert len(clips) == 32 and labels.sum() == 16  # balanced validation clips
    config = FastPathConfig(precision=precision, require_faster=False, max_auc_diff=1.0, token_merging=[])
    check, fast = build_fast_path(detector, clips, labels, config)
    assert check.passed and fast is not None, check.reason
    assert check.max_p_diff <= 0.01
    test = np.stack([np.asarray(dataset.load_clip(p)) for p in dataset.split("test").clip_path[:8]])
    assert np.abs(fast.score(detector.preprocessing, test) - detector.score_reference(test)).max() <= 0.01


def test_the_stored_fast_path_is_what_loads(dataset, detector, tmp_path):
    clips, labels = calibration_clips(dataset, 16)
    config = FastPathConfig(precision="bf16", require_faster=False, max_auc_diff=1.0, token_merging=[])
    check, fast = build_fast_path(detector, clips, labels, config)
    with_fast = Detector(detector.model, detector.processor, 0.5, {**detector.info, "fast_path": check.model_dump()},
                         fast=fast)  # fmt: skip
    tag = export_to_bentoml(with_fast, "card", labels={"stage": "production"}, name="fast-path-test")
    import bentoml

    folder = bentoml.models.get(tag).path
    loaded = Detector.load(folder)
    assert loaded.backend == "openvino-bf16" == Detector.backend_of(folder, loaded.info)
    assert Detector.load(folder, backend="torch").backend == "torch-fp32"
    np.testing.assert_allclose(loaded.score(clips), fast.score(detector.preprocessing, clips), atol=1e-6)
    assert np.abs(loaded.score(clips) - detector.score_reference(clips)).max() <= 0.01


def test_a_fast_path_that_fails_its_check_is_not_kept(dataset, detector):
    clips, labels = calibration_clips(dataset, 16)
    config = FastPathConfig(precision="auto", max_p_diff=0.0, token_merging=[])
    check, fast = build_fast_path(detector, clips, labels, config)
    assert fast is None and not check.passed and check.precision == "bf16"  # int8 tried first, then bf16
    assert "max |p_fake difference|" in check.reason
    failed = Detector(detector.model, detector.processor, 0.5, {"fast_path": check.model_dump()}, fast=fast)
    tag = export_to_bentoml(failed, "card", labels={"stage": "production"}, name="fast-path-test")
    import bentoml

    folder = bentoml.models.get(tag).path
    assert Detector.load(folder).backend == "torch-fp32"
    assert Detector.read_meta(folder)[1]["fast_path"]["passed"] is False

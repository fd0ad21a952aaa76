"""Token merging (ToMe) for VideoMAE: exact without merges, shapes as scheduled, size-weighted and proportional,
exported as a fast-path candidate only when it passes the check, and reported by the service."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import torch
from synthetic_clips import make_clip_dataset
from tiny_models import UNTRAINED

from deepfake_detection.config import ClipParams
from deepfake_detection.evaluation.model_card import fast_path_section, with_fast_path_section
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.fast_path import (
    FastModel,
    FastPathConfig,
    build_fast_path,
    calibration_clips,
    check_fast_model,
    convert,
)
from deepfake_detection.modeling.merge_schedule import MergeInfo, MergeSchedule
from deepfake_detection.modeling.model import ModelParams, build_model
from deepfake_detection.modeling.token_merging import (
    TokenMergedVideoMAE,
    bipartite_soft_matching,
    merge_weighted,
    merged,
)
from deepfake_detection.modeling.training_config import TrainingConfig
from deepfake_detection.registry import export_to_bentoml

# 16 frames of 64x64 in 16-pixel tubelets: 8 x 4 x 4 = 128 tokens
SMALL = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
TOKENS = 128


def small_model(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    model, processor = build_model(ModelParams(scratch={**SMALL, **overrides}, dropout=0.0), 16, 64)
    return model.eval(), processor


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_clip_dataset(tmp_path_factory.mktemp("clips"), n_per_class=8, size=64)


@pytest.fixture(scope="module")
def clips_and_labels(dataset):
    return calibration_clips(dataset, 16)


@pytest.mark.parametrize("mean_pooling", [True, False])
def test_no_merging_is_exactly_the_model(mean_pooling):
    model, _ = small_model(use_mean_pooling=mean_pooling)
    x = torch.randn(3, 16, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(TokenMergedVideoMAE(model, [0, 0])(x), model(pixel_values=x).logits)
        # a schedule that merges changes the answer a little, not the model it wraps
        assert not torch.equal(merged(model, MergeSchedule(r=16))(x), model(pixel_values=x).logits)
        assert torch.equal(TokenMergedVideoMAE(model, [0, 0])(x), model(pixel_values=x).logits)


@pytest.mark.parametrize(
    ("schedule", "r", "tokens"),
    [
        (MergeSchedule(r=16), [16, 16], [128, 112, 96]),
        (MergeSchedule(r=[40, 8]), [40, 8], [128, 88, 80]),
        (MergeSchedule(keep=0.25), [48, 40], [128, 80, 40]),  # 48 wanted twice; the second layer can merge 40
        (MergeSchedule(r=200), [64, 32], [128, 64, 32]),  # never more than half of a layer's tokens
        (MergeSchedule(keep=0.5, decreasing=True), [42, 21], [128, 86, 65]),  # 64 merged in shares 2:1
        (MergeSchedule(r=10, decreasing=True), [13, 6], [128, 115, 109]),
    ],
)  # fmt: skip
def test_token_counts_and_output_shape_are_as_scheduled(schedule, r, tokens):
    model, _ = small_model()
    module = merged(model, schedule)
    assert module.r == r and module.tokens == tokens
    seen = {"attention": [], "mlp": [], "sizes": []}
    for layer in model.videomae.encoder.layer:
        layer.layernorm_before.register_forward_hook(lambda m, args, out: seen["attention"].append(args[0].shape[1]))
        layer.layernorm_after.register_forward_hook(lambda m, args, out: seen["mlp"].append(args[0].shape[1]))
    for merge in module.merges:
        merge.register_forward_hook(lambda m, args, out: seen["sizes"].append(out[1]))
    with torch.no_grad():
        logits = module(torch.randn(2, 16, 3, 64, 64))
    assert logits.shape == (2, 2)
    assert seen["attention"] == tokens[:-1] and seen["mlp"] == tokens[1:]
    for size, count in zip(seen["sizes"], tokens[1:], strict=True):  # every patch is in exactly one token
        assert size.shape == (2, count, 1) and torch.all(size.sum(1) == TOKENS)


def test_a_schedule_for_the_wrong_depth_is_refused():
    model, _ = small_model()
    with pytest.raises(ValueError, match="layers"):
        merged(model, MergeSchedule(r=[8, 8, 8]))
    with pytest.raises(ValueError, match="not both"):
        MergeSchedule(r=8, keep=0.5)
    with pytest.raises(ValueError, match="already a shape"):
        MergeSchedule(r=[8, 8], decreasing=True)


def test_matching_merges_the_most_similar_pair_and_keeps_the_size_weighted_sum():
    # A tokens are even positions, B tokens odd: A0 is B1's twin (a 0.999 match), every other pair is far apart
    metric = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2], [1.0, 0.05]]])
    x = torch.arange(8.0).view(1, 4, 2)
    merge = bipartite_soft_matching(metric, r=1)
    out = merge(x)
    # unmerged A2, then B1, then B3 with A0 summed into it
    assert torch.equal(out, torch.tensor([[[4.0, 5.0], [2.0, 3.0], [6.0 + 0.0, 7.0 + 1.0]]]))
    size = torch.tensor([[[2.0], [1.0], [1.0], [3.0]]])
    merged_x, merged_size = merge_weighted(merge, x, size)
    assert torch.equal(merged_size, torch.tensor([[[1.0], [1.0], [5.0]]]))
    # what mean pooling sees is unchanged: the size-weighted sum of the tokens
    torch.testing.assert_close((merged_x * merged_size).sum(1), (x * size).sum(1))
    # protecting token 0 (a class token) keeps it unmerged and first
    assert torch.equal(bipartite_soft_matching(metric, r=1, protect_first=True)(x)[0, 0], x[0, 0])


def test_proportional_attention_counts_a_merged_token_as_its_size():
    """A layer over [a, a, b, c] gives a, b and c the outputs it gives them over [a, b, c] with a of size 2."""
    model, _ = small_model()
    module = TokenMergedVideoMAE(model, [0, 0])
    layer, no_merge = model.videomae.encoder.layer[0], module.merges[0]
    tokens = torch.randn(1, 3, 64)
    duplicated = tokens[:, [0, 0, 1, 2]]
    with torch.no_grad():
        out_duplicated, _ = module._layer(layer, no_merge, duplicated, None)
        out_sized, _ = module._layer(layer, no_merge, tokens, torch.tensor([[[2.0], [1.0], [1.0]]]))
        without = TokenMergedVideoMAE(model, [0, 0], proportional_attention=False)
        out_plain, _ = without._layer(layer, no_merge, tokens, torch.tensor([[[2.0], [1.0], [1.0]]]))
    torch.testing.assert_close(out_sized, out_duplicated[:, [0, 2, 3]])
    assert not torch.allclose(out_plain, out_duplicated[:, [0, 2, 3]], atol=1e-4)


def test_the_merged_model_converts_to_openvino_with_the_same_function(clips_and_labels):
    model, processor = small_model()
    detector = Detector(model, processor)
    module = merged(model, MergeSchedule(keep=0.3))
    pixel_values = detector.preprocessing(clips_and_labels[0][:4]).numpy()
    ov_model = convert(model, pixel_values, module)
    fast = FastModel(ov_model, "bf16", MergeInfo.of(module, MergeSchedule(keep=0.3)))
    import openvino as ov

    exact = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    with torch.no_grad():
        reference = module(torch.as_tensor(pixel_values)).numpy()
    np.testing.assert_allclose(np.asarray(exact(pixel_values)[0]), reference, atol=1e-4)
    assert module.r == [44, 42] and fast.backend == "openvino-bf16+tome-r44-42"


def destroyed_cues_model():
    """A random VideoMAE whose MLPs dominate and saturate (weights x20) and whose head is sharp (x5): averaging
    tokens before such MLPs changes their output, so merging moves p_fake by 0.02-0.05 while OpenVINO alone
    moves it by ~0.001 (measured). A random model at its initial scale is nearly linear and merges losslessly."""
    model, processor = small_model()
    with torch.no_grad():
        for layer in model.videomae.encoder.layer:
            layer.intermediate.dense.weight.mul_(20)
            layer.output.dense.weight.mul_(20)
        model.classifier.weight.mul_(5)
    return Detector(model, processor, info={"trained_on": UNTRAINED})


def assert_the_rule(check, fast, config):
    """Every candidate carries its numbers, passes exactly by the tolerances, and the fastest passing is kept."""
    assert check.candidates, "no candidate recorded"
    for c in check.candidates:
        assert c.clips == 16 and c.seconds_per_clip_fast > 0 and c.seconds_per_clip_reference > 0
        within = c.max_p_diff <= config.max_p_diff and abs(c.auc_fast - c.auc_reference) <= config.max_auc_diff
        assert c.passed == within, c
    passing = [c for c in check.candidates if c.passed]
    assert (fast is not None) == bool(passing) == check.passed
    if passing:
        best = min(passing, key=lambda c: c.seconds_per_clip_fast)
        assert check.backend_name == best.backend_name == fast.backend
        assert check.token_merging == best.token_merging


def test_export_keeps_merging_only_where_it_passes_and_records_every_candidate(clips_and_labels):
    clips, labels = clips_and_labels
    schedules = [MergeSchedule(keep=0.5), MergeSchedule(keep=0.1)]
    config = FastPathConfig(precision="bf16", require_faster=False, max_auc_diff=1.0, token_merging=schedules)
    check, fast = build_fast_path(destroyed_cues_model(), clips, labels, config)
    assert [c.token_merging.schedule if c.token_merging else None for c in check.candidates] == [
        None, "keep=0.5", "keep=0.1",
    ]  # fmt: skip
    assert_the_rule(check, fast, config)
    assert [c.passed for c in check.candidates] == [True, False, False]
    assert check.token_merging is None and fast.merging is None and fast.backend == "openvino-bf16"
    assert "token merging not used" in check.summary and "max |p_fake difference|" in check.summary
    # where merging keeps the function (a random model at its initial scale), a merged candidate passes too
    model, processor = small_model()
    check, fast = build_fast_path(Detector(model, processor), clips, labels, config)
    assert_the_rule(check, fast, config)
    assert all(c.passed for c in check.candidates) and len(check.candidates) == 3
    # a schedule resolving to one already tried is not tried twice; "auto" tries bf16 only where int8 failed
    same = [MergeSchedule(r=0), MergeSchedule(r=8), MergeSchedule(r=[8, 8])]
    config = FastPathConfig(
        precision="auto", require_faster=False, max_auc_diff=1.0, max_p_diff=0.0, token_merging=same
    )
    check, fast = build_fast_path(Detector(model, processor), clips, labels, config)
    assert [c.backend_name for c in check.candidates] == [
        "openvino-int8", "openvino-bf16", "openvino-int8+tome-r8", "openvino-bf16+tome-r8",
    ]  # fmt: skip
    assert fast is None and check.backend_name == "openvino-bf16"  # none passed: the plain network's check
    assert "no fast path kept" in check.summary


def test_the_card_lists_every_candidate(clips_and_labels):
    clips, labels = clips_and_labels
    config = FastPathConfig(precision="bf16", require_faster=False, max_auc_diff=1.0,
                            token_merging=[MergeSchedule(keep=0.5)])  # fmt: skip
    check, _ = build_fast_path(destroyed_cues_model(), clips, labels, config)
    section = fast_path_section(check.model_dump())
    assert "Serving runs **OpenVINO bf16**" in section and check.summary in section
    assert "| OpenVINO bf16 | none |" in section and "| OpenVINO bf16 | keep=0.5 (r32) | 64 |" in section
    card = "# card\n\n## Limitations\n\nsome" + section + "\n## Cross-dataset evaluation\n\ntable\n"
    again = with_fast_path_section(card, None)
    assert "Fast path" not in again and again.endswith("## Cross-dataset evaluation\n\ntable\n")
    assert with_fast_path_section(again, check.model_dump()).count("## Fast path") == 1


def test_the_training_config_takes_merge_schedules():
    config = TrainingConfig.model_validate({"fast_path": {"token_merging": [{"keep": 0.4}, {"r": [8, 4]}]}})
    assert [s.spec for s in config.fast_path.token_merging] == ["keep=0.4", "r=[8, 4]"]
    assert TrainingConfig.model_validate({"fast_path": {"token_merging": []}}).fast_path.token_merging == []
    defaults = TrainingConfig().fast_path.token_merging
    assert [s.spec for s in defaults][:2] == ["keep=0.5", "keep=0.5 decreasing"] and len(defaults) == 5


@pytest.mark.slow
def test_the_service_reports_the_path_and_schedule_it_runs(clips_and_labels, tmp_path):
    """/model names the merged OpenVINO path and its schedule; the stored model loads as that path."""
    from serving.local_server import bentoml_server

    clips, labels = clips_and_labels
    params = ClipParams(size=64, clips_per_video=2)
    model, processor = small_model()
    info = {"trained_on": UNTRAINED, "base_model": "from-scratch:test", "clip_geometry": params.geometry().model_dump()}
    detector = Detector(model, processor, 0.5, info)
    schedule = MergeSchedule(keep=0.3)
    module = merged(model, schedule)
    ov_model = convert(model, detector.preprocessing(clips).numpy(), module)
    fast = FastModel.as_stored(ov_model, "bf16", MergeInfo.of(module, schedule))
    check = check_fast_model(detector, fast, clips, labels, FastPathConfig(require_faster=False, max_auc_diff=1.0))
    assert check.passed, check.reason
    detector.info["fast_path"], detector.fast = check.model_dump(), fast
    name = "token-merging-test"
    tag = export_to_bentoml(detector, "test model", {"stage": "production", "zenml_model_version": "1"}, name=name)
    import bentoml

    folder = bentoml.models.get(tag).path
    backend = "openvino-bf16+tome-r44-42"
    loaded = Detector.load(folder)
    assert loaded.backend == backend == Detector.backend_of(folder, loaded.info)
    np.testing.assert_allclose(loaded.score(clips), fast.score(detector.preprocessing, clips), atol=1e-6)
    settings = {"model_tag": f"{name}:latest", "request_log_dir": str(tmp_path / "log"), "decode_workers": 1}
    with bentoml_server(settings, tmp_path) as srv:
        served = requests.get(f"{srv.url}/model", timeout=5).json()
    assert served["backend"] == backend
    assert served["fast_path"]["token_merging"]["schedule"] == "keep=0.3"
    assert served["fast_path"]["token_merging"]["r"] == module.r

"""VideoMAE building, preprocessing read from the saved processor, freezing, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_detection.modeling.detector import Detector
from deepfake_detection.modeling.model import ModelParams, Preprocessing, build_model, set_trainable_blocks
from deepfake_detection.modeling.training import TrainParams

TINY = ModelParams(
    scratch={"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 64}
)


def test_two_output_head_with_dropout():
    model, _ = build_model(TINY, num_frames=16, image_size=64)
    assert model.config.num_labels == 2 and model.config.id2label == {0: "real", 1: "fake"}
    assert model.head_dropout.p == TINY.dropout
    x = torch.zeros(2, 16, 3, 64, 64)
    assert model(pixel_values=x).logits.shape == (2, 2)


def test_preprocessing_is_the_same_in_training_and_inference(tmp_path):
    model, processor = build_model(TINY, num_frames=16, image_size=64)
    used_in_training = Preprocessing.from_processor(processor)
    Detector(model, processor, threshold=0.3).save(tmp_path)
    served = Detector.load(tmp_path)
    assert served.preprocessing == used_in_training
    assert served.threshold == 0.3
    clip = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    x = used_in_training(clip)
    assert x.shape == (16, 3, 64, 64)
    # the Kinetics checkpoints' ImageNet statistics, applied after rescaling to [0, 1]
    expected = (clip[0, 0, 0, 0] / 255 - 0.485) / 0.229
    assert float(x[0, 0, 0, 0]) == np.float32(expected).item() or abs(float(x[0, 0, 0, 0]) - expected) < 1e-5
    model.eval()
    np.testing.assert_allclose(Detector(model, processor).score(clip[None]), served.score(clip[None]), atol=1e-6)


def test_unfreeze_schedule_changes_which_parameters_get_gradients():
    params = TrainParams(unfreeze={0: 0, 2: 1, 4: 100})
    assert [params.blocks_at(e) for e in range(6)] == [0, 0, 1, 1, 100, 100]
    model, _ = build_model(TINY, num_frames=16, image_size=64)
    x = torch.randn(1, 16, 3, 64, 64)

    def grads_after(top: int) -> set[str]:
        set_trainable_blocks(model, top)
        model.zero_grad(set_to_none=True)
        model(pixel_values=x).logits.sum().backward()
        return {n.split(".")[0] if "layer." not in n else "block" + n.split("layer.")[1].split(".")[0]
                for n, p in model.named_parameters() if p.grad is not None}  # fmt: skip

    assert grads_after(0) == {"fc_norm", "classifier"}
    assert grads_after(1) == {"fc_norm", "classifier", "block2"}
    assert grads_after(100) == {"fc_norm", "classifier", "block0", "block1", "block2", "videomae"}


def test_an_architecture_typo_fails_before_any_work():
    """`hiden_size` must not silently build a full-size VideoMAE: unknown and project-owned keys are refused."""
    import pydantic

    from deepfake_detection.modeling.model import ModelParams
    from deepfake_detection.modeling.training_config import TrainingConfig

    with pytest.raises(pydantic.ValidationError, match="'hiden_size' \\(did you mean 'hidden_size'\\?\\)"):
        ModelParams(scratch={"hiden_size": 64})
    with pytest.raises(pydantic.ValidationError, match="num_frames are set by the project"):
        ModelParams(scratch={"num_frames": 8})
    with pytest.raises(pydantic.ValidationError, match="hiden_size"):
        TrainingConfig(**{"train": {"model": {"scratch": {"hiden_size": 64}}}})
    assert ModelParams(scratch={"hidden_size": 64, "patch_size": 32}).scratch["patch_size"] == 32

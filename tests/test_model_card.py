"""The model card says what the model is: demo or FF++, from scratch, fine-tuned or imported."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from deepfake_detection.evaluation.model_card import model_card


class FakeEvaluation:
    threshold, split, clip_auc_ci = 0.42, "test", (0.8, 0.9)

    def headline(self, level: str) -> dict:
        return {"accuracy": 0.9, "f1": 0.8, "auc": 0.85}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"level": ["clip"], "auc": [0.85]})


@pytest.mark.parametrize(
    ("info", "tag", "says", "never"),
    [
        ({"trained_on": "synthetic demo data (NOT FaceForensics++)", "base_model": "from-scratch:hidden_size=64"},
         "synthetic-demo-data", "random weights", "faceforensics++"),
        ({"trained_on": "FaceForensics++ c23", "base_model": "MCG-NJU/videomae-base-finetuned-kinetics"},
         "faceforensics++", "fine-tuned from a pretrained checkpoint", "synthetic"),
        ({"trained_on": "not recorded (imported checkpoint org/m)", "base_model": "org/m", "imported_from": "org/m"},
         "faceforensics++", "imported from `org/m`", "gradual unfreezing"),
    ],
)  # fmt: skip
def test_the_card_describes_the_model_it_ships_with(info, tag, says, never):
    card = model_card(info, FakeEvaluation(), {"lr": 1e-4})
    meta = yaml.safe_load(card.split("---")[1])
    assert tag in meta["tags"] and says in card
    assert never not in card.split("---", 2)[2].lower().replace("not faceforensics++", "")
    assert "threshold: 0.4200" in card and meta["model-index"][0]["results"][0]["metrics"][2]["value"] == 0.85


@pytest.mark.parametrize(
    ("info", "licence", "says"),
    [
        ({"trained_on": "FaceForensics++ c23", "base_model": "MCG-NJU/videomae-base-finetuned-kinetics"},
         "cc-by-nc-4.0", "research only"),
        ({"trained_on": "synthetic demo data (NOT FaceForensics++)", "base_model": "from-scratch:hidden_size=64"},
         "apache-2.0", "as the code"),
        ({"trained_on": "not recorded", "base_model": "org/m", "imported_from": "org/m"}, "other", "`org/m` applies"),
    ],
)  # fmt: skip
def test_the_card_gives_the_weights_their_own_licence(info, licence, says):
    """Weights are not the code: a fine-tune of MCG-NJU's Kinetics VideoMAE is CC-BY-NC-4.0, FF++ research only."""
    card = model_card(info, FakeEvaluation(), {"lr": 1e-4})
    assert yaml.safe_load(card.split("---")[1])["license"] == licence
    assert says in card.split("## Licence", 1)[1]
    assert ("research only" in card) == ("FaceForensics++ c23" in info["trained_on"])

"""The Hugging Face model card (README.md with `model-index`), generated from the measured results."""

from __future__ import annotations

import yaml

from deepfake_detection.evaluation.report import Evaluation
from deepfake_detection.modeling.stored import is_demo_model

# Licences of base checkpoints, from their Hugging Face model cards: fine-tuned weights inherit them
CHECKPOINT_LICENCES = {"MCG-NJU/videomae": "cc-by-nc-4.0"}


def weights_licence(info: dict) -> tuple[str, str]:
    """(SPDX-like id for the card's metadata, a sentence) for a model's weights, which are not the code's
    Apache-2.0: a fine-tune inherits its base checkpoint's licence and its training data's terms of use."""
    base = str(info.get("base_model") or "")
    data = str(info.get("trained_on") or "")
    terms = (" Its training data, FaceForensics++, is released for research only under its own terms of use."
             if "faceforensics" in data.lower() and "not faceforensics" not in data.lower() else "")  # fmt: skip
    if info.get("imported_from"):
        return "other", f"Imported weights: the licence of `{info['imported_from']}` applies (see its own card).{terms}"
    if base.startswith("from-scratch"):
        return "apache-2.0", f"Random initial weights trained here: Apache-2.0, as the code.{terms}"
    for prefix, licence in CHECKPOINT_LICENCES.items():
        if base.startswith(prefix):
            return licence, (f"Fine-tuned from `{base}`, whose model card gives {licence.upper()}: these weights "
                             f"inherit it (non-commercial use only).{terms}")  # fmt: skip
    return "other", f"Fine-tuned from `{base}`: its licence applies to these weights (see its model card).{terms}"


def model_card(info: dict, evaluation: Evaluation, train_config: dict) -> str:
    clip, video = evaluation.headline("clip"), evaluation.headline("video")
    synthetic = is_demo_model(info)
    dataset_name = info.get("trained_on", "unknown")
    results = [
        {"type": t, "value": round(float(r[t]), 4), "name": f"{level} {t}"}
        for level, r in (("clip", clip), ("video", video))
        for t in ("accuracy", "f1", "auc")
    ]
    licence, licence_note = weights_licence(info)
    meta = {
        "license": licence,
        "library_name": "transformers",
        "pipeline_tag": "video-classification",
        "base_model": info.get("base_model"),
        "tags": ["deepfake-detection", "videomae", "synthetic-demo-data" if synthetic else "faceforensics++"],
        "model-index": [
            {
                "name": "deepfake-videomae",
                "results": [
                    {
                        "task": {"type": "video-classification", "name": "deepfake detection"},
                        "dataset": {"name": dataset_name, "type": "faceforensics++" if not synthetic else "synthetic"},
                        "metrics": results,
                    }
                ],
            }
        ],
    }
    warning = (
        "\n> **Trained on synthetic demo data, not FaceForensics++. This model is not a deepfake detector;**\n"
        "> it exists to exercise the pipeline end to end.\n"
        if synthetic
        else ""
    )
    lo, hi = evaluation.clip_auc_ci
    base = str(info.get("base_model"))
    if info.get("imported_from"):
        how = (f"imported from `{info['imported_from']}` (its training is not recorded here), with its outputs "
               "read as (real, fake) from its `id2label`, and evaluated and gated like a trained version.")  # fmt: skip
    elif base.startswith("from-scratch"):
        how = ("built from a config with random weights (no pretrained backbone) and trained with Adam, binary "
               "cross-entropy, dropout and early stopping on validation AUC.")  # fmt: skip
    else:
        how = ("fine-tuned from a pretrained checkpoint with Adam, binary cross-entropy, dropout, early stopping on "
               "validation AUC and gradual unfreezing.")  # fmt: skip
    limitations = (
        "Synthetic demo data: the fakes are simple pastes and blends of two faces, so high scores here say the "
        "pipeline works and nothing about real deepfakes.\n"
        if synthetic
        else "FaceForensics++ faces are frontal, mostly newsreader footage; expect lower accuracy on other "
        "compressions, resolutions and generation methods than those trained on (see the drift monitor and the "
        "cross-dataset evaluation).\n"
    )
    return (
        f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n\n# deepfake-videomae\n{warning}\n"
        f"VideoMAE (ViT, 16 frames of 224x224 face crops) with a 2-output head (real, fake), {how}\n\n"
        f"- base model: `{info.get('base_model')}`\n"
        f"- trained on: {dataset_name} (data hash `{info.get('data_hash')}`)\n"
        f"- decision threshold: {evaluation.threshold:.4f}, chosen on the validation split\n"
        f"- test split, clip AUC {clip['auc']:.4f} (95% bootstrap CI {lo:.4f}-{hi:.4f}), "
        f"video AUC {video['auc']:.4f}\n"
        "- p(fake) = sigmoid(logit_fake - logit_real): the probability the binary cross-entropy was taken on and "
        "every answer reports (log loss and ECE measure it)\n"
        "- video score: mean p(fake) over a face's clips, max over faces\n\n"
        f"## Results ({evaluation.split} split)\n\n{evaluation.table().round(4).to_markdown(index=False)}\n\n"
        f"## Training configuration\n\n```yaml\n{yaml.safe_dump(train_config, sort_keys=False)}```\n\n"
        f"## Limitations\n\n{limitations}"
        f"\n## Licence\n\n{licence_note} The code that trained and serves it is Apache-2.0.\n"
        f"{fast_path_section(info.get('fast_path'))}"
    )


FAST_PATH_HEADING = "\n## Fast path (CPU serving)\n"


def fast_path_section(check: dict | None) -> str:
    """The export's fast-path check as a card section: what runs, and every candidate's agreement and speed
    against torch fp32 on the validation clips (`modeling.fast_path.build_fast_path`); "" when none was built."""
    if not check:
        return ""
    rows = []
    for c in check.get("candidates") or [check]:
        merge = c.get("token_merging")
        schedule = f"{merge['schedule']} ({merge['label']})" if merge else "none"
        tokens = merge["tokens"][-1] if merge else "all"
        auc = "n/a" if c.get("auc_reference") is None else f"{c['auc_reference']:.4f} -> {c['auc_fast']:.4f}"
        ratio = c["seconds_per_clip_fast"] / c["seconds_per_clip_reference"] if c["seconds_per_clip_reference"] else 0
        result = "passed" if c["passed"] else c["reason"]
        rows.append(
            f"| OpenVINO {c['precision']} | {schedule} | {tokens} | {c['max_p_diff']:.4f} | {c['mean_p_diff']:.4f} "
            f"| {auc} | {c['seconds_per_clip_fast']:.3g} | {ratio:.2f}x | {result} |"
        )
    return (
        f"{FAST_PATH_HEADING}\nServing runs **{_what_runs(check)}**. Each candidate was checked against torch fp32 "
        f"on {check['clips']} validation clips (torch fp32: {check['seconds_per_clip_reference']:.3g} s/clip, batch "
        f"1): it passes with max |p_fake difference| <= {check['tolerance_p']}, |AUC difference| <= "
        f"{check['tolerance_auc']} and faster than torch fp32; the fastest passing one is kept. Token merging (ToMe, "
        "training-free) merges r similar tokens per layer; `keep` is the share of tokens left after the last layer."
        f"\n\n{check.get('summary', '')}\n\n"
        "| candidate | token merging | tokens at the head | max abs dp | mean abs dp | AUC torch -> candidate "
        "| s/clip | x torch fp32 | result |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def _what_runs(check: dict) -> str:
    if not check.get("passed"):
        return "torch fp32 (no fast path passed)"
    merge = check.get("token_merging")
    return f"OpenVINO {check['precision']}" + (
        f", token merging {merge['schedule']} ({merge['label']})" if merge else ""
    )


def with_fast_path_section(card: str, check: dict | None) -> str:
    """`card` with its fast-path section replaced by `check`'s (for a fast path rebuilt after export)."""
    head, found, rest = card.partition(FAST_PATH_HEADING)
    tail = ("\n## " + rest.split("\n## ", 1)[1]) if found and "\n## " in rest else ""
    return head.rstrip("\n") + "\n" + fast_path_section(check) + tail

"""One assessment of an upload: the detector's verdict and the file's own evidence under one written rule.

The rule ("evidence rule 1"). The first line that applies gives the `label` and `headline`; every fact that
went into it is a `reason`, and what the headline cannot mean is a `caveat`:

1. Content Credentials that fail verification (`invalid`) -> `credentials_invalid`, "credentials fail
   verification (possible tampering)". The failed checks are named. Nothing the manifest declares is believed.
2. A manifest box that cannot be read (`unreadable`: garbage in it, a hostile structure) -> `credentials_unreadable`,
   "credentials unreadable (possible tampering or damage)". A read cut at its deadline (`timed_out`) is not
   this: it falls to rule 6 and says why.
3. Valid (or trusted) credentials declaring AI generation (`trainedAlgorithmicMedia`, in the active manifest or
   an ingredient's) -> `declared_ai_generated`, "declared AI-generated": whatever the detector says, face or no
   face, demo model or not.
4. Valid credentials declaring AI editing (`compositeWithTrainedAlgorithmicMedia`) -> `declared_ai_edited`.
5. Valid credentials declaring a camera capture (`digitalCapture`, `computationalCapture`): with a detector that
   is not a demo model saying `fake` -> `conflicting` ("declared camera capture, the detector says fake");
   otherwise `declared_camera_capture`.
6. Otherwise (no manifest, a manifest on the web that is not fetched, a format not checked, valid credentials
   declaring nothing of the above) the detector decides: `detector_fake`, `detector_real` or `inconclusive` (no
   usable face); with a demo model `no_conclusion`, since its verdict means nothing.

What it cannot mean (said in `caveats`): a missing manifest is evidence of nothing (platforms strip credentials
on upload, most cameras never write them); `valid` without a trust list means the file is unchanged since it was
signed by a certificate naming that signer, not that the signer is who it says (anyone can make a certificate,
including to label real footage as AI-generated); a camera-capture declaration is the signer's claim about how
the file began, not proof the scene happened. Container and audio facts are listed as `facts` and never decide:
tags are trivially edited and re-encoding is how most honest video travels.

The detector's own `verdict` and `p_fake` are copied, never changed; a demo model's verdict stays labelled
meaningless while the credentials, which do not depend on it, still count.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence.bundle import Evidence
from deepfake_detection.evidence.provenance import Provenance

RULE = "evidence rule 1"
Label = Literal[
    "credentials_invalid",
    "credentials_unreadable",
    "declared_ai_generated",
    "declared_ai_edited",
    "conflicting",
    "declared_camera_capture",
    "detector_fake",
    "detector_real",
    "inconclusive",
    "no_conclusion",
]
HEADLINES: dict[str, str] = {
    "credentials_invalid": "credentials fail verification (possible tampering)",
    "credentials_unreadable": "credentials unreadable (possible tampering or damage)",
    "declared_ai_generated": "declared AI-generated",
    "declared_ai_edited": "declared AI-edited",
    "conflicting": "conflicting evidence: declared camera capture, the detector says fake",
    "declared_camera_capture": "declared camera capture",
    "detector_fake": "the detector says fake",
    "detector_real": "the detector says real",
    "inconclusive": "inconclusive: no usable face for the detector",
    "no_conclusion": "no conclusion: the detector is a demo model and the file declares nothing",
}
DECLARED_LABELS = {"ai_generated": "declared_ai_generated", "ai_edited": "declared_ai_edited"}
NO_MANIFEST = ("a missing manifest is evidence of nothing: most platforms strip Content Credentials on upload and "
               "most cameras never write them")  # fmt: skip
UNTRUSTED = ("'valid' says the file is unchanged since it was signed by a certificate naming this signer, not that "
             "the signer is who it says: no trust list is configured, and anyone can make a certificate (even to "
             "label real footage as AI-generated)")  # fmt: skip
CAPTURE = "a camera-capture declaration is the signer's claim about how the file began, not proof the scene happened"
DEMO = ("the detector is a demo model trained on synthetic data: its verdict means nothing; the Content Credentials "
        "and container facts do not depend on it")  # fmt: skip
FACTS = "container and audio facts are stated, never used to decide: tags are easily edited, most video is re-encoded"


class Assessment(BaseModel):
    """The combined assessment (see the module docstring for the rule); `label` is stable, `headline` is words."""

    model_config = ConfigDict(extra="forbid")

    rule: str = RULE
    label: Label
    headline: str
    decided_by: Literal["credentials", "detector", "nothing"]
    reasons: list[str] = Field(default_factory=list, description="what went into the headline, in order")
    caveats: list[str] = Field(default_factory=list, description="what the headline cannot mean")
    facts: list[str] = Field(default_factory=list, description="container and audio facts, not used to decide")
    detector_verdict: Literal["fake", "real", "inconclusive"]
    detector_p_fake: float | None = None
    detector_is_demo: bool = False


def assess(verdict: str, p_fake: float | None, detector_is_demo: bool, evidence: Evidence) -> Assessment:
    """The assessment of one upload from the detector's `verdict` ("fake", "real" or "inconclusive"), its
    video-level `p_fake` (None without a face), whether the detector is a demo model, and the file's evidence.

    Raises `ValueError` for a verdict other than the three.
    """
    if verdict not in ("fake", "real", "inconclusive"):
        raise ValueError(f"verdict {verdict!r}: expected fake, real or inconclusive")
    p = evidence.provenance
    detector = _detector_line(verdict, p_fake, detector_is_demo)
    caveats = [DEMO] if detector_is_demo else []
    label = _credentials_label(p, verdict, detector_is_demo)
    if label is not None:
        reasons = [_credentials_line(p), detector]
        decided_by = "credentials"
        if p.state == "valid":
            caveats.append(UNTRUSTED)
        if label in ("declared_camera_capture", "conflicting"):
            caveats.append(CAPTURE)
    else:
        reasons = [detector, _credentials_line(p)]
        if detector_is_demo:
            label, decided_by = "no_conclusion", "nothing"
        else:
            label = {"fake": "detector_fake", "real": "detector_real"}.get(verdict, "inconclusive")
            decided_by = "detector" if verdict != "inconclusive" else "nothing"
        if p.state in ("none", "remote", "not_checked"):
            caveats.append(NO_MANIFEST)
        elif p.state == "valid":
            caveats.append(UNTRUSTED)
    facts = _facts(evidence)
    if facts:
        caveats.append(FACTS)
    return Assessment(
        label=label,
        headline=HEADLINES[label],
        decided_by=decided_by,
        reasons=reasons,
        caveats=caveats,
        facts=facts,
        detector_verdict=verdict,  # type: ignore[arg-type]
        detector_p_fake=p_fake,
        detector_is_demo=detector_is_demo,
    )


def _credentials_label(p: Provenance, verdict: str, detector_is_demo: bool) -> str | None:
    """Rules 1-5: the label the credentials decide, or None when they decide nothing (rule 6)."""
    if p.state == "invalid":
        return "credentials_invalid"
    if p.state == "unreadable" and p.present and not p.timed_out:
        return "credentials_unreadable"
    if p.state not in ("valid", "trusted"):
        return None
    if p.declared in DECLARED_LABELS:
        return DECLARED_LABELS[p.declared]
    if p.declared == "camera_capture":
        return "conflicting" if verdict == "fake" and not detector_is_demo else "declared_camera_capture"
    return None


def _credentials_line(p: Provenance) -> str:
    if p.state == "invalid":
        failed = "; ".join(f"{c.code}: {c.explanation}" if c.explanation else c.code for c in p.failures)
        return f"{p.summary}. Failed checks: {failed or 'the SDK marks the manifest invalid'}"
    if p.state == "valid" and p.declared in (None, "other"):
        actions = ", ".join(a.action for a in p.actions) or "none"
        return f"{p.summary} (actions: {actions}); credentials that declare no AI use and no capture decide nothing"
    if p.state in ("none", "remote", "not_checked"):
        return f"{p.summary}; evidence of nothing"
    return p.summary


def _detector_line(verdict: str, p_fake: float | None, demo: bool) -> str:
    score = f", p(fake) {p_fake:.3f}" if p_fake is not None else ""
    said = f"the detector's verdict: {verdict}{score}"
    if verdict == "inconclusive":
        said += " (no usable face)"
    return f"{said} (a demo model: meaningless)" if demo else said


def _facts(evidence: Evidence) -> list[str]:
    facts = list(evidence.container.notes) if evidence.container is not None else []
    if evidence.audio is not None:
        facts.append(f"audio: {evidence.audio.summary}")
    return facts

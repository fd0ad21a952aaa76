"""The evidence and its assessment as flat scalar columns: batch scoring's Parquet rows and the request log.

`flat_columns` gives one row's worth (every value a str, bool, float, int or None; lists joined with "; "),
`log_columns` the few the request log keeps for monitoring (`LOG_COLUMNS`, with their SQLite types): whether
an upload carried credentials, their state, what they declare, and the assessment's label.
"""

from __future__ import annotations

from deepfake_detection.evidence.assessment import Assessment
from deepfake_detection.evidence.bundle import Evidence

# request-log column -> SQLite type; the monitoring report reads these (monitoring/evidence_share.py)
LOG_COLUMNS: dict[str, str] = {
    "has_credentials": "INTEGER",  # 1: the file carries a manifest (or a reference to one), 0: not
    "credentials_state": "TEXT",  # none / valid / trusted / invalid / unreadable / remote / not_checked
    "declared_source": "TEXT",  # ai_generated / ai_edited / camera_capture / other, from valid credentials only
    "declared_ai": "INTEGER",  # 1: valid credentials declare AI generation or AI editing
    "assessment": "TEXT",  # the assessment's label (evidence rule 1)
}
DECLARED_AI = ("ai_generated", "ai_edited")


def declared_source(evidence: Evidence) -> str | None:
    """What verified (valid or trusted) credentials declare; None for anything that was not verified."""
    p = evidence.provenance
    return p.declared if p.state in ("valid", "trusted") else None


def log_columns(evidence: Evidence, assessment: Assessment) -> dict[str, object]:
    """The request-log columns of one upload (keys: `LOG_COLUMNS`)."""
    source = declared_source(evidence)
    return {
        "has_credentials": int(evidence.provenance.present),
        "credentials_state": evidence.provenance.state,
        "declared_source": source,
        "declared_ai": int(source in DECLARED_AI),
        "assessment": assessment.label,
    }


def flat_columns_absent() -> dict[str, object]:
    """The evidence columns of a row with no evidence (a file that could not be read): every key, all None."""
    from deepfake_detection.evidence.provenance import Provenance

    return dict.fromkeys(flat_columns(Evidence(provenance=Provenance(state="none", present=False, summary=""))))


def flat_columns(evidence: Evidence, assessment: Assessment | None = None) -> dict[str, object]:
    """One Parquet row's evidence columns, prefixed by what they describe (`credentials_`, `container_`,
    `audio_`, `assessment_`); the same keys whatever the file, so a table of many uploads has one schema."""
    p, c, a = evidence.provenance, evidence.container, evidence.audio
    row: dict[str, object] = {
        "has_credentials": p.present,
        "credentials_state": p.state,
        "credentials_trusted": p.trusted,
        "credentials_declared": declared_source(evidence),
        "declared_ai": declared_source(evidence) in DECLARED_AI,
        "credentials_signer": p.signer,
        "credentials_issuer": p.issuer,
        "credentials_claim_generator": p.claim_generator,
        "credentials_signed_at": p.signed_at,
        "credentials_failures": "; ".join(f.code for f in p.failures) or None,
        "credentials_actions": "; ".join(
            f"{x.action} ({x.digital_source_type})" if x.digital_source_type else x.action for x in p.actions
        )
        or None,
        "credentials_remote_url": p.remote_url,
        "credentials_summary": p.summary,
        "container_writing_application": c.writing_application if c else None,
        "container_encoders": "; ".join(c.encoders) if c and c.encoders else None,
        "container_tools": "; ".join(t.tool for t in c.tools) if c and c.tools else None,
        "container_creation_time": c.creation_time if c else None,
        "container_device": " ".join(x for x in (c.device_make, c.device_model) if x) or None if c else None,
        "container_handlers": "; ".join(c.handlers) if c and c.handlers else None,
        "audio_present": a.present if a else None,
        "audio_codec": a.codec if a else None,
        "audio_sample_rate": a.sample_rate if a else None,
        "audio_channels": a.channels if a else None,
        "audio_duration_s": a.duration_s if a else None,
        "audio_duration_gap_s": a.duration_gap_s if a else None,
        "evidence_read_ms": evidence.read_ms,
        "assessment": assessment.label if assessment else None,
        "assessment_headline": assessment.headline if assessment else None,
        "assessment_decided_by": assessment.decided_by if assessment else None,
    }
    return row

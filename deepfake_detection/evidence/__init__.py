"""Evidence beyond the pixels: an upload's Content Credentials (C2PA), container facts and audio track, and the
one assessment that puts them beside the detector's verdict under a written rule (`assessment`).

One job per module: `provenance` (C2PA, offline and time-bounded), `container` (tags, device, encoder traces),
`audio` (the audio track from demuxed packets), `bundle` (`Evidence`, `read_evidence`), `assessment` (the
rule), `columns` (flat columns for Parquet and the request log). See docs/evidence.md.
"""

from deepfake_detection.evidence.assessment import Assessment, assess
from deepfake_detection.evidence.audio import AudioTally, AudioTrack, read_audio
from deepfake_detection.evidence.bundle import Evidence, read_evidence
from deepfake_detection.evidence.columns import LOG_COLUMNS, flat_columns, log_columns
from deepfake_detection.evidence.container import ContainerFacts, container_facts
from deepfake_detection.evidence.provenance import Provenance, TrustList, read_provenance

__all__ = [
    "LOG_COLUMNS",
    "Assessment",
    "AudioTally",
    "AudioTrack",
    "ContainerFacts",
    "Evidence",
    "Provenance",
    "TrustList",
    "assess",
    "container_facts",
    "flat_columns",
    "log_columns",
    "read_audio",
    "read_evidence",
    "read_provenance",
]

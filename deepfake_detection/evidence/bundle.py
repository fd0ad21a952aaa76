"""The evidence of one upload beside the pixels: its Content Credentials, container facts and audio track.

`Evidence` is what an answer carries (as `provenance`, `container`, `audio`). Inside the probe, build it from
the parts (`read_provenance(path)`, `container_facts(container, first_packet)`, `AudioTally`/`read_audio` on the
same open container); elsewhere `read_evidence(path)` does all three with one PyAV open and one C2PA read.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence.audio import AudioTally, AudioTrack, absent
from deepfake_detection.evidence.container import ContainerFacts, container_facts
from deepfake_detection.evidence.provenance import Provenance, TrustList, read_provenance


class Evidence(BaseModel):
    """The file's own evidence; `container` and `audio` are None when the file is no readable container."""

    model_config = ConfigDict(extra="forbid")

    provenance: Provenance
    container: ContainerFacts | None = None
    audio: AudioTrack | None = None
    read_ms: float = Field(0.0, description="time to read all of it, ms")


def read_evidence(
    path: str | Path,
    video_duration_s: float | None = None,
    video_start_s: float | None = None,
    trust: TrustList | None = None,
    timeout_s: float | None = None,
) -> Evidence:
    """All the evidence of the file at `path`: one demux pass (no decoding) serves the container facts (with the
    first video packet's encoder signature) and the audio track; the C2PA SDK reads the file once more.

    `video_duration_s`/`video_start_s`: the analysed stream's measured duration and start (the probe's), to
    compare the audio with. Never raises for the file's content: an unreadable container gives `container` and
    `audio` None, with the provenance still read.
    """
    started = time.perf_counter()
    provenance = read_provenance(path, trust, timeout_s)
    container, audio = _demux_facts(Path(path), video_duration_s, video_start_s)
    return Evidence(provenance=provenance, container=container, audio=audio,
                    read_ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip


def _demux_facts(
    path: Path, video_duration_s: float | None, video_start_s: float | None
) -> tuple[ContainerFacts | None, AudioTrack | None]:
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception:  # not a container FFmpeg reads: the probe states why; here there is nothing to add
        return None, None
    with container:
        attached = int(av.stream.Disposition.attached_pic)
        video = next((s for s in container.streams.video if not int(s.disposition) & attached), None)
        tally = AudioTally.for_container(container)
        wanted = [s for s in (video, tally.stream if tally else None) if s is not None]
        first_packet = None
        try:
            for packet in container.demux(wanted) if wanted else ():
                if video is not None and packet.stream_index == video.index and first_packet is None and packet.size:
                    first_packet = bytes(packet)
                    if tally is None:
                        break  # without audio, the first video packet is all there is to read
                if tally is not None:
                    tally.add(packet)
        except Exception as exc:  # a truncated file: what was demuxed counts
            if tally is not None:
                tally.read_error = f"the audio could not be read to its end ({type(exc).__name__})"
        audio = tally.track(video_duration_s, video_start_s) if tally is not None else absent()
        return container_facts(container, first_packet), audio

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


class DemuxEvidence:
    """Container facts and the audio track, gathered during a demux pass someone else runs: the probe's
    (`media.probe.DemuxListener`), so an upload's packets are read once for the video and its evidence."""

    def __init__(self) -> None:
        self.tally: AudioTally | None = None
        self.container: ContainerFacts | None = None

    def streams(self, container) -> list:
        self.tally = AudioTally.for_container(container)
        return [self.tally.stream] if self.tally is not None else []

    def packet(self, packet) -> None:
        if self.tally is not None:
            self.tally.add(packet)

    def done(self, container, first_video_packet: bytes | None, error: Exception | None) -> None:
        if error is not None and self.tally is not None:  # a truncated file: what was demuxed counts
            self.tally.read_error = f"the audio could not be read to its end ({type(error).__name__})"
        self.container = container_facts(container, first_video_packet)

    def audio(self, video_duration_s: float | None, video_start_s: float | None) -> AudioTrack:
        return self.tally.track(video_duration_s, video_start_s) if self.tally is not None else absent()


def _demux_facts(
    path: Path, video_duration_s: float | None, video_start_s: float | None
) -> tuple[ContainerFacts | None, AudioTrack | None]:
    import av

    from deepfake_detection.media.formats import OPEN_OPTIONS

    try:
        container = av.open(str(path), options=dict(OPEN_OPTIONS), metadata_errors="ignore")
    except Exception:  # not a container FFmpeg reads: the probe states why; here there is nothing to add
        return None, None
    gathered = DemuxEvidence()
    with container:
        attached = int(av.stream.Disposition.attached_pic)
        video = next((s for s in container.streams.video if not int(s.disposition) & attached), None)
        wanted = [s for s in (video, *gathered.streams(container)) if s is not None]
        first_packet, error = None, None
        try:
            for packet in container.demux(wanted) if wanted else ():
                if video is not None and packet.stream_index == video.index:
                    if first_packet is None and packet.size:
                        first_packet = bytes(packet)
                        if gathered.tally is None:
                            break  # without audio, the first video packet is all there is to read
                    continue
                gathered.packet(packet)
        except Exception as exc:
            error = exc
        gathered.done(container, first_packet, error)
        return gathered.container, gathered.audio(video_duration_s, video_start_s)

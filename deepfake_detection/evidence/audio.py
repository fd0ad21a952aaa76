"""The audio track of an upload, measured from its demuxed packets (no decoding), beside the analysed video.

Like the probe does for video, duration and bitrate come from the packets' timestamps and sizes, not from
headers (which a browser's WebM leaves out and an edited AVI gets wrong); codec, sample rate and channels come
from the stream's codec parameters. Facts only: a missing track, or audio shorter than the video, is how many
files are made (screen recordings, muted exports, clips cut from longer ones) and proves nothing by itself.

Two ways in, both on the container the probe already opened: `AudioTally`, fed the audio packets of a demux
loop the caller already runs (one pass over the file for video and audio), or `read_audio`, which demuxes the
audio stream itself from the container's current position.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence.text import clean_text

GAP_WORTH_SAYING_S = 0.5  # audio and video durations further apart than this are mentioned in the summary


class AudioTrack(BaseModel):
    """The audio stream beside the video (the `default` one when there are several); `present` False: none."""

    model_config = ConfigDict(extra="forbid")

    present: bool
    streams: int = Field(0, description="audio streams in the file")
    stream_index: int | None = None
    codec: str | None = None
    profile: str | None = None
    sample_rate: int | None = Field(None, description="Hz")
    channels: int | None = None
    layout: str | None = Field(None, description="channel layout, e.g. 'stereo'")
    language: str | None = None
    packets: int = 0
    duration_s: float | None = Field(None, description="measured from packet timestamps")
    header_duration_s: float | None = Field(None, description="what the container header says, if anything")
    start_s: float | None = Field(None, description="first packet's presentation time in the container, s")
    bitrate: int | None = Field(None, description="bits/s, measured from packet sizes")
    video_duration_s: float | None = None
    duration_gap_s: float | None = Field(None, description="audio duration minus video duration, s")
    start_offset_s: float | None = Field(None, description="audio start minus video start, s")
    read_error: str | None = Field(None, description="the demuxer stopped early (a truncated file)")
    summary: str = ""


def choose_audio_stream(container):
    """The audio stream a player plays: the one marked `default`, else the first; None without audio."""
    import av

    streams = list(container.streams.audio)
    if not streams:
        return None
    default = int(av.stream.Disposition.default)
    return next((s for s in streams if int(s.disposition) & default), streams[0])


class AudioTally:
    """Accumulates one audio stream's packets (`add`) and states the track (`track`)."""

    def __init__(self, container, stream) -> None:
        self.stream = stream
        self.streams = len(container.streams.audio)
        self.time_base = float(stream.time_base) if stream.time_base else 0.0
        self.first: int | None = None
        self.end: int | None = None
        self.packets = 0
        self.bytes = 0
        self.read_error: str | None = None

    @classmethod
    def for_container(cls, container) -> AudioTally | None:
        """A tally of the container's chosen audio stream; None when it has no audio (`absent()` says so)."""
        stream = choose_audio_stream(container)
        return None if stream is None else cls(container, stream)

    def add(self, packet) -> None:
        """Count one demuxed packet (packets of other streams and flush packets are ignored)."""
        if packet.stream_index != self.stream.index or not packet.size:
            return
        self.packets += 1
        self.bytes += packet.size
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            return
        self.first = stamp if self.first is None else min(self.first, stamp)
        end = stamp + int(packet.duration or 0)
        self.end = end if self.end is None else max(self.end, end)

    def track(self, video_duration_s: float | None = None, video_start_s: float | None = None) -> AudioTrack:
        """The track as measured so far, compared with the video's duration and start (seconds) when given."""
        ctx = self.stream.codec_context
        duration = start = None
        if self.first is not None and self.end is not None and self.time_base > 0:
            duration = round((self.end - self.first) * self.time_base, 4)
            start = round(self.first * self.time_base, 4)
        header = float(self.stream.duration * self.time_base) if self.stream.duration and self.time_base else None
        layout = getattr(getattr(ctx, "layout", None), "name", None) if ctx is not None else None
        track = AudioTrack(
            present=True,
            streams=self.streams,
            stream_index=self.stream.index,
            codec=clean_text(ctx.codec.canonical_name or ctx.name, 40) if ctx is not None else None,
            profile=clean_text(getattr(ctx, "profile", None), 40) if ctx is not None else None,
            sample_rate=int(ctx.sample_rate) if ctx is not None and ctx.sample_rate else None,
            channels=int(ctx.channels) if ctx is not None and getattr(ctx, "channels", 0) else None,
            layout=clean_text(layout, 40),
            language=clean_text((self.stream.metadata or {}).get("language"), 20),
            packets=self.packets,
            duration_s=duration,
            header_duration_s=round(header, 4) if header else None,
            start_s=start,
            bitrate=int(self.bytes * 8 / duration) if duration else None,
            video_duration_s=video_duration_s,
            duration_gap_s=round(duration - video_duration_s, 4) if duration is not None and video_duration_s else None,
            start_offset_s=round(start - video_start_s, 4) if start is not None and video_start_s is not None else None,
            read_error=self.read_error,
        )
        return track.model_copy(update={"summary": _summary(track)})


def absent() -> AudioTrack:
    """The answer for a file without an audio stream."""
    return AudioTrack(present=False, summary="no audio track")


def read_audio(container, video_duration_s: float | None = None, video_start_s: float | None = None) -> AudioTrack:
    """The audio track of an open PyAV container, demuxing its audio stream from the current position (pass a
    freshly opened or rewound container). A read error part-way keeps what was demuxed and says so."""
    tally = AudioTally.for_container(container)
    if tally is None:
        return absent()
    try:
        for packet in container.demux(tally.stream):
            tally.add(packet)
    except Exception as exc:  # PyAV raises FFmpeg's many error types; a truncated file ends the count there
        tally.read_error = f"the audio could not be read to its end ({type(exc).__name__})"
    return tally.track(video_duration_s, video_start_s)


def read_audio_file(path: str | Path, video_duration_s: float | None = None) -> AudioTrack:
    """`read_audio` of the file at `path` (opens and closes it)."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        return read_audio(container, video_duration_s)


def _summary(track: AudioTrack) -> str:
    parts = [track.codec.upper() if track.codec else "audio"]
    if track.sample_rate:
        parts.append(f"{track.sample_rate / 1000:g} kHz")
    if track.layout or track.channels:
        parts.append(track.layout or f"{track.channels} channels")
    text = " ".join(parts)
    if track.duration_s is not None:
        text += f", {track.duration_s:.2f} s"
        if track.video_duration_s:
            text += f" (video {track.video_duration_s:.2f} s)"
    if track.duration_gap_s is not None and abs(track.duration_gap_s) > GAP_WORTH_SAYING_S:
        side = "longer" if track.duration_gap_s > 0 else "shorter"
        text += f"; the audio is {abs(track.duration_gap_s):.2f} s {side} than the video"
    if track.streams > 1:
        text += f"; {track.streams} audio streams in the file"
    if track.read_error:
        text += f"; {track.read_error}"
    return text

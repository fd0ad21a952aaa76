"""Facts an analyst reads in a video's container: who wrote the file, when, on what device, and with what tools.

Read from an already-open PyAV input container (the probe's own: no second open, no decoding) and, when given,
the first video packet's bytes, where x264 and x265 write their name, version and settings. Everything is a fact
of the file as written, stated as such: tags are trivially edited, so they say what the file claims, and a
missing tag means nothing. `tools` names the known software whose traces are present (FFmpeg's libavformat
`Lavf` muxer tag, libavcodec `Lavc` encoder tags, HandBrake, x264/x265, editors), and `notes` says in words what
each trace usually means: a file last written by FFmpeg was remuxed or re-encoded by it, or by a tool or
platform built on it, after it left the camera.

Tag names follow FFmpeg's (QuickTime `mdta` keys such as `com.apple.quicktime.make`, Android's
`com.android.version`, MP4 `udta` atoms as `encoder`, `location`), lower-cased so Matroska's upper-case tags
read the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence.text import clean_text

MAX_TAGS = 64
WRITER_KEYS = ("encoder", "software", "writing_application", "encoded_by", "encoding_tool", "tool")
CREATION_KEYS = ("com.apple.quicktime.creationdate", "creation_time", "date", "date_recorded")
MAKE_KEYS = ("com.apple.quicktime.make", "make", "com.android.manufacturer", "manufacturer")
MODEL_KEYS = ("com.apple.quicktime.model", "model", "com.android.model")
DEVICE_SOFTWARE_KEYS = ("com.apple.quicktime.software", "com.android.version")
LOCATION_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
BRANDS = {
    "qt": "QuickTime (Apple devices and software)",
    "isom": "ISO base media (FFmpeg's default brand)",
    "mp41": "MP4 version 1",
    "mp42": "MP4 version 2 (cameras, phones and editors)",
    "m4v": "Apple M4V",
    "3gp4": "3GPP (phones)",
    "3gp5": "3GPP (phones)",
    "3gp6": "3GPP (phones)",
    "3g2a": "3GPP2 (phones)",
    "avc1": "MP4 with H.264",
    "dash": "MPEG-DASH segment (streaming platforms)",
}
# handler names are written by the muxer, not the encoder: they tell which software wrote the container
HANDLERS = {
    "videohandler": "FFmpeg's libavformat writes by default",
    "soundhandler": "FFmpeg's libavformat writes by default",
    "core media video": "Apple AVFoundation writes (iPhone, iPad, macOS)",
    "core media audio": "Apple AVFoundation writes (iPhone, iPad, macOS)",
    "videohandle": "Android's MediaRecorder writes (phone cameras)",
    "soundhandle": "Android's MediaRecorder writes (phone cameras)",
    "iso media file produced by google inc.": "Google's transcoder writes (YouTube and other Google services)",
    "l-smash video handler": "L-SMASH writes (the x264 command line's MP4 writer)",
    "gopro avc": "GoPro cameras write",
    "gopro aac": "GoPro cameras write",
    "mainconcept video media handler": "MainConcept writes (professional encoders and editors)",
}
# (pattern over writer/encoder tags and encoder signatures, tool, what its trace means)
KNOWN_TOOLS: tuple[tuple[str, str, str], ...] = (
    (r"^lavf\d", "FFmpeg (libavformat)", "the container was written by FFmpeg or a tool or platform built on it "
     "(remuxed, re-encoded or made with software; cameras do not write this tag)"),
    (r"^lavc\d", "FFmpeg (libavcodec)", "a stream was encoded by FFmpeg's libavcodec (in software, not by a "
     "camera)"),
    (r"handbrake", "HandBrake", "transcoded with HandBrake (re-encoded)"),
    (r"^x264 ", "x264", "the video was encoded with the x264 software encoder (cameras and phones use hardware "
     "encoders)"),
    (r"^x265 ", "x265", "the video was encoded with the x265 software encoder (cameras and phones use hardware "
     "encoders)"),
    (r"premiere|adobe media encoder|after effects", "Adobe video software", "exported from an Adobe editor"),
    (r"final cut|imovie|compressor", "Apple video software", "exported from an Apple editor"),
    (r"davinci|\bresolve\b", "DaVinci Resolve", "exported from DaVinci Resolve"),
    (r"capcut|jianying", "CapCut", "exported from CapCut"),
    (r"filmora|wondershare", "Wondershare Filmora", "exported from Filmora"),
    (r"\b(shotcut|kdenlive|openshot|avidemux|vlc|obs)\b", "desktop video software", "written by a desktop video tool"),
)  # fmt: skip


class KnownTool(BaseModel):
    """Known software whose trace is in the file, the trace itself, and what it usually means."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    trace: str
    meaning: str


class ContainerFacts(BaseModel):
    """What the container says about the file's origin (see the module docstring); facts, not conclusions."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="FFmpeg's demuxer name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2'")
    brand: str | None = Field(None, description="MP4/QuickTime major brand, e.g. 'isom', 'qt', 'mp42'")
    brand_meaning: str | None = None
    writing_application: str | None = Field(None, description="the container's encoder/software tag")
    encoders: list[str] = Field(default_factory=list, description="stream encoder tags and encoder signatures")
    encoder_settings: str | None = Field(None, description="the x264/x265 options string, when present")
    creation_time: str | None = Field(None, description="as written (ISO 8601 or the device's own form)")
    device_make: str | None = None
    device_model: str | None = None
    device_software: str | None = None
    location: str | None = Field(None, description="ISO 6709 location as written by the device")
    handlers: list[str] = Field(default_factory=list, description="stream handler names, in stream order")
    streams: dict[str, int] = Field(default_factory=dict, description="streams by type")
    tools: list[KnownTool] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="the facts above in words")
    tags: dict[str, str] = Field(default_factory=dict, description="the container-level tags (cleaned, capped)")


def container_facts(container, first_video_packet: bytes | None = None) -> ContainerFacts:
    """The facts of an open PyAV input container (`av.open(path)`); it is only read, never moved or closed.

    `first_video_packet`: the bytes of the analysed stream's first packet (`bytes(packet)`), from a demux loop
    the caller already runs; it carries x264/x265's signature. Without it those signatures are not looked for.
    """
    tags = _tags(container.metadata)
    stream_tags = [_tags(s.metadata) for s in container.streams]
    streams: dict[str, int] = {}
    for stream in container.streams:
        streams[str(stream.type)] = streams.get(str(stream.type), 0) + 1
    brand = _brand(tags.get("major_brand"))
    writer = _first(tags, WRITER_KEYS)
    encoders = _unique([t.get("encoder") for t in stream_tags])
    signature, settings = encoder_signature(first_video_packet) if first_video_packet else (None, None)
    if signature:
        encoders.append(signature)
    handlers = _unique([t.get("handler_name") for t in stream_tags])
    facts = ContainerFacts(
        format=clean_text(container.format.name, 60) or "unknown",
        brand=brand,
        brand_meaning=BRANDS.get(brand or ""),
        writing_application=writer,
        encoders=encoders,
        encoder_settings=settings,
        creation_time=_first(tags, CREATION_KEYS) or _first_of(stream_tags, CREATION_KEYS),
        device_make=_first(tags, MAKE_KEYS),
        device_model=_first(tags, MODEL_KEYS),
        device_software=_first(tags, DEVICE_SOFTWARE_KEYS),
        location=_first(tags, LOCATION_KEYS),
        handlers=handlers,
        streams=streams,
        tools=known_tools([writer, *encoders]),
        tags=dict(list(tags.items())[:MAX_TAGS]),
    )
    return facts.model_copy(update={"notes": _notes(facts)})


def read_container_facts(path: str | Path) -> ContainerFacts:
    """`container_facts` of the file at `path`: opens it, reads the first video packet, closes it.

    Raises what `av.open` raises for a file that is not a container (the probe reports those).
    """
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        packet = None
        video = [s for s in container.streams.video if not int(s.disposition) & int(av.stream.Disposition.attached_pic)]
        if video:
            try:
                packet = next((bytes(p) for p in container.demux(video[0]) if p.size), None)
            except av.error.FFmpegError:
                packet = None
        return container_facts(container, packet)


def encoder_signature(packet: bytes) -> tuple[str | None, str | None]:
    """(name and version, options) from the x264/x265 signature a software encoder writes into its first
    access unit, e.g. ('x264 core 164 r3095 baee400', 'cabac=1 ref=3 ... crf=23.0 ...'); (None, None) if absent."""
    x264 = re.search(rb"x264 - core (\d+)( r\d+)?( [0-9a-f]+)?", packet)
    if x264:
        name = "x264 core " + b"".join(g or b"" for g in x264.groups()).decode("ascii", "replace").strip()
        return name, _options(packet, x264.end())
    x265 = re.search(rb"x265 \(build (\d+)\) - ([0-9A-Za-z.+\-]+)", packet)
    if x265:
        return f"x265 {x265.group(2).decode('ascii', 'replace')} (build {int(x265.group(1))})", _options(
            packet, x265.end()
        )
    return None, None


def known_tools(traces: list[str | None]) -> list[KnownTool]:
    """The known tools (KNOWN_TOOLS) whose pattern matches one of the tag values or signatures."""
    found: dict[str, KnownTool] = {}
    for trace in traces:
        if not trace:
            continue
        for pattern, tool, meaning in KNOWN_TOOLS:
            if tool not in found and re.search(pattern, trace.lower()):
                found[tool] = KnownTool(tool=tool, trace=trace, meaning=meaning)
    return list(found.values())


def _notes(facts: ContainerFacts) -> list[str]:
    notes = [f"{t.tool} ({t.trace}): {t.meaning}" for t in facts.tools]
    writers: dict[str, list[str]] = {}
    for handler in facts.handlers:
        if handler.lower() in HANDLERS:
            writers.setdefault(HANDLERS[handler.lower()], []).append(f"'{handler}'")
    for who, names in writers.items():
        notes.append(f"handler name{'s' if len(names) > 1 else ''} {', '.join(names)}: what {who}")
    device = " ".join(x for x in (facts.device_make, facts.device_model) if x)
    if device:
        notes.append(f"the file names a recording device: {device}" + (
            f", software {facts.device_software}" if facts.device_software else ""))  # fmt: skip
    if facts.location:
        notes.append("the file carries a location")
    if not facts.tools and not device and not facts.writing_application:
        notes.append("the container names no writing application or device")
    return notes


def _tags(metadata) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in dict(metadata or {}).items():
        name, text = clean_text(key, 60), clean_text(value)
        if name and text and len(out) < MAX_TAGS:
            out.setdefault(name.lower(), text)
    return out


def _brand(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def _first(tags: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((tags[k] for k in keys if tags.get(k)), None)


def _first_of(many: list[dict[str, str]], keys: tuple[str, ...]) -> str | None:
    return next((v for tags in many if (v := _first(tags, keys))), None)


def _unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _options(packet: bytes, start: int) -> str | None:
    found = re.search(rb"options: ([ -~]+)", packet[start : start + 4096])
    return clean_text(found.group(1), 500) if found else None

"""The container formats an upload may be: what the first bytes look like and which FFmpeg demuxer reads it.

One table serves both gates: the service (`sniff_container`) recognises a file from its first bytes before it is stored
(never from the client's file name or content type), and `media.probe` opens files with FFmpeg restricted to
these demuxers and to the `file` protocol. FFmpeg reads far more than video files, and some of its
"formats" read *other* files (HLS and DASH playlists, the concat demuxer, image sequences) or reach the
network; an upload must never make the service open anything but itself.

Families (the ones FFmpeg reads that people send as video): MP4/MOV/3GP, Matroska/WebM, AVI, MPEG-TS (and
M2TS), MPEG program streams (VOB), raw MPEG video, FLV, GIF, ASF (WMV), Ogg, MXF, RealMedia, NUT, IVF, Y4M,
raw DV, raw H.264/HEVC (Annex B).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerFamily:
    """A family of containers: its name in answers, its FFmpeg demuxer names and how its first bytes look."""

    name: str
    demuxers: tuple[str, ...]
    matches: Callable[[bytes], bool]


def _annexb(head: bytes) -> bool:
    """A raw H.264/HEVC elementary stream: a start code, then a parameter set, delimiter or SEI NAL unit."""
    for start in (b"\x00\x00\x00\x01", b"\x00\x00\x01"):
        if head.startswith(start) and len(head) > len(start):
            nal = head[len(start)]
            return (nal & 0x1F) in (6, 7, 9) or ((nal >> 1) & 0x3F) in (32, 33, 35, 39)
    return False


FAMILIES: tuple[ContainerFamily, ...] = (
    # also mov, m4v, 3gp: an ISO BMFF box type at byte 4
    ContainerFamily("mp4", ("mov",), lambda h: h[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")),
    ContainerFamily("matroska", ("matroska",), lambda h: h[:4] == b"\x1a\x45\xdf\xa3"),  # mkv and webm
    ContainerFamily("avi", ("avi",), lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI "),
    # a sync byte every 188 bytes (TS) or every 192 (M2TS: a 4-byte time code before each packet)
    ContainerFamily(
        "mpegts",
        ("mpegts",),
        lambda h: (
            (len(h) > 376 and h[0] == h[188] == h[376] == 0x47) or (len(h) > 388 and h[4] == h[196] == h[388] == 0x47)
        ),
    ),
    ContainerFamily("mpeg", ("mpeg", "mpegvideo"), lambda h: h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
    ContainerFamily("flv", ("flv",), lambda h: h[:3] == b"FLV"),
    ContainerFamily("gif", ("gif",), lambda h: h[:6] in (b"GIF87a", b"GIF89a")),  # animated GIFs are short videos
    ContainerFamily("asf", ("asf",), lambda h: h[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")),  # wmv
    ContainerFamily("ogg", ("ogg",), lambda h: h[:4] == b"OggS"),
    ContainerFamily("mxf", ("mxf",), lambda h: h[:4] == bytes.fromhex("060e2b34")),
    ContainerFamily("rm", ("rm",), lambda h: h[:4] == b".RMF"),
    ContainerFamily("nut", ("nut",), lambda h: h[:8] == b"nut/mult"),
    ContainerFamily("ivf", ("ivf",), lambda h: h[:4] == b"DKIF"),
    ContainerFamily("y4m", ("yuv4mpegpipe",), lambda h: h[:10] == b"YUV4MPEG2 "),
    # raw DV (camcorders, tape captures): a DIF header block first; its last bit tells PAL from NTSC
    ContainerFamily("dv", ("dv",), lambda h: len(h) >= 4 and int.from_bytes(h[:4], "big") & 0xFFFFFF7F == 0x1F07003F),
    ContainerFamily("annexb", ("h264", "hevc"), _annexb),
)
ACCEPTED_CONTAINERS = tuple(f.name for f in FAMILIES)
DEMUXERS = tuple(d for f in FAMILIES for d in f.demuxers)
SNIFF_BYTES = 512

# What FFmpeg is told when it opens a file: only these demuxers, only local files, no external references.
OPEN_OPTIONS = {"format_whitelist": ",".join(DEMUXERS), "protocol_whitelist": "file"}


def sniff_container(head: bytes) -> str | None:
    """The container family named by a file's first bytes, or None when it is no video container we know."""
    if len(head) < 12:
        return None
    return next((f.name for f in FAMILIES if f.matches(head)), None)


def family_of(demuxer: str) -> str:
    """The family name of an FFmpeg demuxer ("mov,mp4,m4a,3gp,3g2,mj2" -> "mp4"), or the demuxer's first name."""
    names = demuxer.split(",")
    return next((f.name for f in FAMILIES if names[0] in f.demuxers), names[0])


def described() -> str:
    """The accepted families for a person: 'mp4/mov, matroska/webm, avi, ...'."""
    return ", ".join(f.name for f in FAMILIES)

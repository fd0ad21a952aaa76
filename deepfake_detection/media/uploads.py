"""Accepting an uploaded file as a video before anything decodes it.

The container is recognised from its first bytes (never from the client's file name or content type), and
the file is stored under a fresh random name, so nothing the client sends reaches a filesystem path.
"""

from __future__ import annotations

# container name -> predicate on the first SNIFF_BYTES bytes
_SIGNATURES = {
    "mp4": lambda h: h[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"),  # also mov, m4v, 3gp
    "matroska": lambda h: h[:4] == b"\x1a\x45\xdf\xa3",  # mkv and webm
    "avi": lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ",
    "mpegts": lambda h: len(h) > 376 and h[0] == h[188] == h[376] == 0x47,  # sync byte every 188-byte packet
    "mpeg": lambda h: h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"),
    "flv": lambda h: h[:3] == b"FLV",
    "gif": lambda h: h[:6] in (b"GIF87a", b"GIF89a"),  # animated GIFs are short videos (decoded by PyAV)
}
ACCEPTED_CONTAINERS = tuple(_SIGNATURES)
SNIFF_BYTES = 512


def sniff_container(head: bytes) -> str | None:
    """The container family named by a file's first bytes, or None when it is no video container we know."""
    if len(head) < 12:
        return None
    return next((name for name, match in _SIGNATURES.items() if match(head)), None)

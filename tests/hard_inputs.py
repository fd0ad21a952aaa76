"""The hard uploads (tests/fixtures/hard_inputs) and what each really is."""

from __future__ import annotations

from pathlib import Path

HARD = Path(__file__).resolve().parent / "fixtures" / "hard_inputs"

# What each hard upload really is (see fixtures/hard_inputs/README.md): upright size, rotation, codec,
# frames and seconds as they are in the stream, and which decoder must read it.
EXPECTED = {
    "01_rotation_display_matrix.mp4": (528, 704, 90, "h264", 120, 4.004, "decord"),
    "04_av1_opus.webm": (528, 432, 0, "av1", 120, 4.004, "pyav"),
    "08_webm_live_no_duration.webm": (528, 432, 0, "vp8", 120, 4.004, "pyav"),
    "11_cover_art_first.mp4": (528, 432, 0, "h264", 120, 4.004, "decord"),
    "24_uhd_3840x2160.mp4": (3840, 2160, 0, "h264", 30, 2.0, "decord"),
    "27_avi_header_overcounts.avi": (528, 432, 0, "h264", 120, 4.004, "pyav"),  # decord's frame times are garbage
}

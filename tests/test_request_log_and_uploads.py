"""The request log's windows and durability, and container sniffing of uploads."""

from __future__ import annotations

import time

import pytest

from deepfake_detection.media.formats import sniff_container
from deepfake_detection.monitoring.request_log import RequestLog


def test_request_log_windows_and_durability(tmp_path):
    log = RequestLog(tmp_path)
    t0 = time.time()
    for i in range(5):
        log.append({"request_id": str(i), "verdict": "real", "p_fake": 0.1 * i, "width": 640, "codec": "h264",
                    "time": t0 + i, "reasons": ["no face"] if i == 4 else []})  # fmt: skip
    reopened = RequestLog(tmp_path)  # another process, or the service after a restart
    assert reopened.count() == 5
    assert reopened.read(last=2).request_id.tolist() == ["3", "4"]
    assert reopened.read(since=t0 + 1, until=t0 + 3).request_id.tolist() == ["1", "2"]
    assert reopened.read(last=1).reasons[0] == '["no face"]'
    with pytest.raises(ValueError, match="not request log columns"):
        reopened.append({"request_id": "x", "filename": "evil.mp4"})


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81", "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"this is not a video\n", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"ftyp", None),  # too short to tell
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff", "gif"),  # starts like a TS sync byte, is a GIF
        (b"G" + bytes(400), None),  # a TS sync byte once is not a transport stream
        ((b"\x47" + bytes(187)) * 3, "mpegts"),
    ],
)
def test_sniffing_recognises_containers_by_their_bytes(head, container):
    assert sniff_container(head) == container

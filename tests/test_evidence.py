"""Evidence beyond the pixels: Content Credentials, container facts, audio, and the one assessment.

The signed face videos are made here with the C2PA SDK's public test keys (tests/c2pa_videos.py), offline.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import av
import pandas as pd
import pytest
from browser import ARTIFACTS, CHROMIUM, chromium_page
from c2pa_videos import (
    IPTC,
    KEYS,
    KINDS,
    face_video,
    garble,
    make_c2pa_videos,
    manifest,
    remote_only,
    sign,
    trust_anchor_of_test_keys,
)

from deepfake_detection.evidence import (
    LOG_COLUMNS,
    Evidence,
    Provenance,
    TrustList,
    assess,
    container_facts,
    flat_columns,
    log_columns,
    read_audio,
    read_evidence,
    read_provenance,
)
from deepfake_detection.evidence.assessment import HEADLINES
from deepfake_detection.evidence.audio import AudioTally, read_audio_file
from deepfake_detection.evidence.container import encoder_signature, read_container_facts
from deepfake_detection.evidence.provenance import offline_settings
from deepfake_detection.media.probe import probe
from deepfake_detection.monitoring.evidence_share import evidence_shares, shares_headline, shares_html
from deepfake_detection.monitoring.request_log import RequestLog
from deepfake_detection.scoring.report_html import render_report

REPO = Path(__file__).resolve().parent.parent
HARD = REPO / "tests" / "fixtures" / "hard_inputs"
# what each kind must read as: (state, failed checks, declared, present)
EXPECTED = {
    "no_manifest": ("none", [], None, False),
    "declared_ai": ("valid", [], "ai_generated", True),
    "ai_edited": ("valid", [], "ai_edited", True),
    "camera": ("valid", [], "camera_capture", True),
    "tampered": ("invalid", ["assertion.bmffHash.mismatch"], "ai_generated", True),
    "garbage": ("unreadable", [], None, True),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory, carphone) -> dict[str, Path]:
    return make_c2pa_videos(tmp_path_factory.mktemp("c2pa"), carphone)


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def loopback_server():
    """An HTTP server on 127.0.0.1 that records every request it gets (a remote manifest's would-be host)."""
    _Recorder.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder.hits
    server.shutdown()
    server.server_close()


# ---------- Content Credentials: every kind, through the library ----------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_credentials_is_read_right(videos, kind):
    state, failed, declared, present = EXPECTED[kind]
    p = read_provenance(videos[kind])
    assert (p.state, [c.code for c in p.failures], p.declared, p.present) == (state, failed, declared, present), p
    assert p.trusted is False and p.trust_list is None  # no trust list by default
    assert p.summary and "c2pa-python 0.38.1" in p.sdk and p.read_ms > 0
    if state in ("valid", "invalid"):
        assert (p.signer, p.issuer) == ("C2PA Signer", "C2PA Test Signing Cert")
        assert p.signed_at is None  # signed without a time-stamp authority: no attested time
    if kind == "declared_ai":
        assert [(a.action, a.digital_source_type, a.declares, a.software_agent) for a in p.actions] == [
            ("c2pa.created", "trainedAlgorithmicMedia", "ai_generated", "TestGen video model 1.0")]  # fmt: skip
        assert p.claim_generator == "deepfake-videomae tests 1.0" and p.title == "declared_ai.mp4"
        assert "no trust list is configured" in p.summary and "AI-generated" in p.summary
    if kind == "ai_edited":  # the edit's parent is the camera capture, with its own manifest
        assert [(i.title, i.relationship, i.has_manifest, i.declares) for i in p.ingredients] == [
            ("camera.mp4", "parentOf", True, "camera_capture")]  # fmt: skip
        assert [a.action for a in p.actions] == ["c2pa.opened", "c2pa.edited"] and p.manifests == 2
    if kind == "tampered":
        assert "no longer matches" in p.failures[0].explanation and "fail verification" in p.summary
    if kind == "garbage":
        assert p.summary.startswith("unreadable manifest") and "JUMBF" in p.summary


def test_the_sdks_own_samples():
    signed, stripped = read_provenance(KEYS / "video1.mp4"), read_provenance(KEYS / "video1_no_manifest.mp4")
    assert signed.state == "valid" and signed.claim_generator.startswith("TestApp") and signed.manifests == 2
    assert [a.action for a in signed.actions] == ["c2pa.opened"] and signed.declared is None
    assert signed.ingredients[0].has_manifest and signed.ingredients[0].relationship == "parentOf"
    assert (stripped.state, stripped.present) == ("none", False)


def test_trusted_only_when_the_signer_chains_to_a_configured_trust_list(videos):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    test_ca = TrustList(name="C2PA test CA", anchors_pem=trust_anchor_of_test_keys())
    trusted = read_provenance(videos["declared_ai"], trust=test_ca)
    assert (trusted.state, trusted.trusted, trusted.trust_list) == ("trusted", True, "C2PA test CA")
    assert "on the trust list C2PA test CA" in trusted.summary
    # another CA (made here) on the list: the test signer does not chain to it, so valid, never trusted
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Some Other Root")])
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + pd.Timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    other = TrustList(name="other CA", anchors_pem=cert.public_bytes(serialization.Encoding.PEM).decode())
    untrusted = read_provenance(videos["declared_ai"], trust=other)
    assert (untrusted.state, untrusted.trusted) == ("valid", False) and "not on other CA" in untrusted.summary
    # a tampered file stays invalid whoever is trusted
    assert read_provenance(videos["tampered"], trust=test_ca).state == "invalid"


def test_formats_without_credentials_are_not_checked_and_others_say_none():
    assert read_provenance(HARD / "08_webm_live_no_duration.webm").state == "not_checked"
    assert read_provenance(HARD / "27_avi_header_overcounts.avi").state == "none"
    text = read_provenance(REPO / "README.md")
    assert text.state == "not_checked" and not text.present


def test_a_stream_works_as_a_path_does(videos):
    with videos["camera"].open("rb") as f:
        from_stream = read_provenance(f)
        assert not f.closed  # the caller's stream is the caller's to close
    assert from_stream.model_dump(exclude={"read_ms"}) == read_provenance(videos["camera"]).model_dump(
        exclude={"read_ms"}
    )


# ---------- no network, ever ----------


def test_a_remote_manifest_is_never_fetched(tmp_path, carphone, loopback_server):
    url, hits = loopback_server
    path = remote_only(tmp_path, carphone, f"{url}/manifest.c2pa")
    p = read_provenance(path)
    assert (p.state, p.present, p.remote_url) == ("remote", True, f"{url}/manifest.c2pa")
    assert "not fetched" in p.summary and hits == []
    # each of the two settings alone stops the fetch (so one regressing is not silently covered by the other)
    import c2pa

    for part in ({"verify": {"remote_manifest_fetch": False}}, {"core": {"allowed_network_hosts": []}}):
        with pytest.raises(c2pa.C2paError), c2pa.Reader(str(path), context=c2pa.Context.from_dict(part)):
            pass
    assert hits == []
    # the control: with the SDK's default settings the same read does go to the network
    with pytest.raises(c2pa.C2paError), c2pa.Reader(str(path), context=c2pa.Context()):
        pass
    assert hits == ["/manifest.c2pa"]
    assert offline_settings()["verify"]["remote_manifest_fetch"] is False


def test_reading_evidence_opens_no_socket(videos, tmp_path, carphone, monkeypatch):
    """Python's socket layer refuses and records every attempt while every kind is read."""
    attempts: list[str] = []

    def refuse(name):
        def call(*args, **kwargs):
            attempts.append(name)
            raise OSError(f"network access attempted: {name}")

        return call

    remote = remote_only(tmp_path, carphone, "https://example.org/manifest.c2pa")
    monkeypatch.setattr(socket, "socket", refuse("socket.socket"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    states = [read_evidence(v, 1.92).provenance.state for v in [*videos.values(), remote]]
    assert states == [EXPECTED[k][0] for k in videos] + ["remote"] and attempts == []


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_no_network_system_call_from_the_native_reader(videos, tmp_path, carphone):
    """The SDK is native code, below Python's socket module: strace sees every connect/sendto it would make."""
    if subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True).returncode != 0:
        pytest.skip("ptrace is not permitted here")
    remote = remote_only(tmp_path, carphone, "https://example.org/manifest.c2pa")
    script = textwrap.dedent(f"""
        from deepfake_detection.evidence import read_evidence
        for path in {[str(v) for v in [*videos.values(), remote]]!r}:
            print(read_evidence(path, 1.92).provenance.state)
    """)
    trace = tmp_path / "trace.txt"
    done = subprocess.run(["strace", "-f", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace), sys.executable,
                           "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [EXPECTED[k][0] for k in videos] + ["remote"]
    network = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert network == [], network


# ---------- bounded time, never an exception ----------


class _StallingFile(io.RawIOBase):
    """A file on storage that stops answering after `stall_after` bytes (until `release`), or answers slowly."""

    def __init__(self, data: bytes, stall_after: int | None = None, delay_s: float = 0.0) -> None:
        super().__init__()
        self.data, self.stall_after, self.delay_s = io.BytesIO(data), stall_after, delay_s
        self.release = threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.stall_after is not None and self.data.tell() >= self.stall_after:
            self.release.wait(30)
        time.sleep(self.delay_s)
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.data.seek(offset, whence)

    def tell(self) -> int:
        return self.data.tell()


def test_a_reader_stuck_inside_the_sdk_is_answered_at_the_deadline(videos):
    stalled = _StallingFile(videos["declared_ai"].read_bytes(), stall_after=4096)
    started = time.monotonic()
    p = read_provenance(stalled, timeout_s=0.5)
    assert time.monotonic() - started < 1.5
    assert (p.state, p.timed_out) == ("unreadable", True) and "did not finish in 0.5 s" in p.summary
    stalled.release.set()  # the abandoned reader's next read fails at once, and its thread ends
    deadline = time.monotonic() + 5
    while any(t.name == "c2pa-read" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "c2pa-read" for t in threading.enumerate())


def test_a_slow_read_is_cut_at_the_deadline(videos):
    slow = _StallingFile(videos["declared_ai"].read_bytes(), delay_s=0.1)
    started = time.monotonic()
    p = read_provenance(slow, timeout_s=0.4)
    assert time.monotonic() - started < 1.5 and p.state == "unreadable" and "longer than 0.4 s" in p.summary
    assert p.timed_out and assess("real", 0.1, False, Evidence(provenance=p)).label == "detector_real"  # not tampering


def test_hostile_manifest_boxes_give_a_stated_answer_fast(videos, tmp_path):
    """Random bytes, random bit flips and absurd sizes in the manifest box: a state, never an exception."""
    import numpy as np

    data = videos["declared_ai"].read_bytes()
    box = data.index(bytes.fromhex("d8fec3d61b0e483c92975828877ec481")) - 8
    size = int.from_bytes(data[box : box + 4], "big")
    rng = np.random.default_rng(0)
    cases = {"random": garble(videos["declared_ai"], tmp_path / "random.mp4").read_bytes()}
    for i in range(30):
        flipped = bytearray(data)
        for at in rng.integers(box + 24, box + size, 8):
            flipped[at] ^= 1 << int(rng.integers(8))
        cases[f"flips{i}"] = bytes(flipped)
    huge = bytearray(data)
    huge[box : box + 4] = (0xFFFFFF00).to_bytes(4, "big")  # a box claiming 4 GB
    cases["huge"] = bytes(huge)
    cases["cut"] = data[: box + size // 2]  # the file ends inside the manifest
    seen = set()
    for name, blob in cases.items():
        started = time.monotonic()
        p = read_provenance(io.BytesIO(blob), timeout_s=2.0)
        assert time.monotonic() - started < 2.5, name
        assert isinstance(p, Provenance) and p.summary and not p.timed_out, name
        seen.add(p.state)
    assert "unreadable" in seen and seen <= {"unreadable", "invalid", "valid", "none"}, seen


def test_manifest_text_is_cleaned(videos, tmp_path):
    hostile = "<img src=x onerror=alert(1)>\u202e\n\x07" + "x" * 500
    path = sign(videos["no_manifest"], tmp_path / "hostile.mp4", manifest(hostile, [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
         "softwareAgent": {"name": "agent\u0000\u200bname"}}]))  # fmt: skip
    p = read_provenance(path)
    assert p.state == "valid" and len(p.title) <= 200 and p.title.endswith("...")
    assert "\u202e" not in p.title and "\n" not in p.title and "\x07" not in p.title
    assert p.actions[0].software_agent == "agent name"


# ---------- container facts and audio, from the open container ----------


def test_container_facts_from_an_open_container(videos):
    with av.open(str(videos["camera"])) as container:
        video = container.streams.video[0]
        first = next(bytes(p) for p in container.demux(video) if p.size)
        container.seek(0)
        facts = container_facts(container, first)
        assert sum(1 for p in container.demux(video) if p.size) == 48  # still the caller's to read
    assert (facts.device_make, facts.device_model) == ("TestCam", "Fixture One")
    assert facts.creation_time == "2026-12-01T10:00:00+0100" and facts.brand == "isom"
    assert facts.writing_application.startswith("Lavf") and facts.handlers == ["VideoHandler", "SoundHandler"]
    assert facts.streams == {"video": 1, "audio": 1}
    assert [t.tool for t in facts.tools] == ["FFmpeg (libavformat)", "x264"]  # PyAV writes no Lavc stream tag
    assert any(e.startswith("x264 core ") for e in facts.encoders) and "crf=23.0" in facts.encoder_settings
    assert any("TestCam Fixture One" in n for n in facts.notes) and any("FFmpeg" in n for n in facts.notes)
    assert read_container_facts(videos["camera"]) == facts


def test_container_facts_of_other_containers():
    webm = read_container_facts(HARD / "04_av1_opus.webm")  # Matroska's upper-case tags read the same
    assert webm.writing_application.startswith("Lavf") and "Lavc59.37.100 libsvtav1" in webm.encoders
    assert "FFmpeg (libavcodec)" in [t.tool for t in webm.tools]
    avi = read_container_facts(HARD / "27_avi_header_overcounts.avi")
    assert avi.writing_application.startswith("Lavf") and avi.format == "avi"
    sei = b"\x00\x05x264 - core 164 r3095 baee400 - H.264/MPEG-4 AVC codec - options: crf=20"
    assert encoder_signature(sei) == ("x264 core 164 r3095 baee400", "crf=20")
    assert encoder_signature(b"no signature here") == (None, None)


def test_audio_track_measured_from_packets(videos):
    with av.open(str(videos["camera"])) as container:
        track = read_audio(container, video_duration_s=1.92, video_start_s=0.0)
    assert (track.present, track.codec, track.sample_rate, track.channels, track.layout) == (
        True, "aac", 16_000, 1, "mono")  # fmt: skip
    assert track.duration_s == pytest.approx(1.92, abs=0.1) and track.packets > 20 and track.bitrate > 0
    assert track.duration_gap_s == pytest.approx(track.duration_s - 1.92) and "AAC 16 kHz mono" in track.summary
    # the same numbers when the caller feeds its own demux loop (one pass for video and audio)
    with av.open(str(videos["camera"])) as container:
        tally = AudioTally.for_container(container)
        for packet in container.demux():
            tally.add(packet)
        assert tally.track(1.92, 0.0) == track
    # a MediaRecorder WebM has no durations in its headers: the packets still time the audio
    webm = read_audio_file(HARD / "08_webm_live_no_duration.webm", 4.0)
    assert webm.codec == "opus" and webm.header_duration_s is None and webm.duration_s == pytest.approx(4.0, abs=0.1)
    silent = read_audio_file(HARD / "24_uhd_3840x2160.mp4")
    assert (silent.present, silent.summary) == (False, "no audio track")


def test_audio_much_longer_than_the_video_is_said(tmp_path, carphone):
    track = read_audio_file(face_video(tmp_path / "long_audio.mp4", carphone, audio_s=3.0), video_duration_s=1.92)
    assert track.duration_gap_s == pytest.approx(1.08, abs=0.1)
    assert "s longer than the video" in track.summary


def test_read_evidence_does_everything_once(videos):
    e = read_evidence(videos["declared_ai"], video_duration_s=1.92)
    assert e.provenance.state == "valid" and e.container.streams == {"video": 1, "audio": 1} and e.audio.present
    assert e.read_ms > 0
    not_video = read_evidence(REPO / "README.md")
    assert (not_video.container, not_video.audio, not_video.provenance.state) == (None, None, "not_checked")
    assert probe(videos["declared_ai"]).frame_count == 48  # a signed file is still an ordinary video to the probe


# ---------- the assessment rule, case by case ----------


def _provenance(state: str, declared: str | None = None, **extra) -> Provenance:
    return Provenance(state=state, present=state not in ("none", "not_checked"), summary=f"{state} credentials",
                      declared=declared, **extra)  # fmt: skip


RULE_CASES = [
    # (credentials state, declared, detector verdict, demo model) -> label
    ("invalid", "ai_generated", "real", False, "credentials_invalid"),
    ("invalid", "camera_capture", "fake", True, "credentials_invalid"),
    ("unreadable", None, "real", False, "credentials_unreadable"),
    ("valid", "ai_generated", "real", False, "declared_ai_generated"),
    ("valid", "ai_generated", "inconclusive", True, "declared_ai_generated"),  # no face, demo model: still declared
    ("trusted", "ai_generated", "fake", False, "declared_ai_generated"),
    ("valid", "ai_edited", "real", False, "declared_ai_edited"),
    ("valid", "camera_capture", "fake", False, "conflicting"),
    ("valid", "camera_capture", "fake", True, "declared_camera_capture"),  # a demo model's "fake" conflicts nothing
    ("trusted", "camera_capture", "real", False, "declared_camera_capture"),
    ("valid", "other", "fake", False, "detector_fake"),
    ("valid", None, "real", False, "detector_real"),
    ("none", None, "fake", False, "detector_fake"),
    ("none", None, "real", False, "detector_real"),
    ("none", None, "inconclusive", False, "inconclusive"),
    ("none", None, "fake", True, "no_conclusion"),
    ("remote", None, "real", True, "no_conclusion"),
    ("not_checked", None, "fake", False, "detector_fake"),
]


@pytest.mark.parametrize(("state", "declared", "verdict", "demo", "label"), RULE_CASES)
def test_the_assessment_rule(state, declared, verdict, demo, label):
    p_fake = None if verdict == "inconclusive" else {"fake": 0.9, "real": 0.1}[verdict]
    a = assess(verdict, p_fake, demo, Evidence(provenance=_provenance(state, declared)))
    assert (a.label, a.headline, a.rule) == (label, HEADLINES[label], "evidence rule 1")
    assert (a.detector_verdict, a.detector_p_fake, a.detector_is_demo) == (verdict, p_fake, demo)  # never changed
    detector_line = next(r for r in a.reasons if r.startswith("the detector's verdict"))
    assert ("meaningless" in detector_line) == demo and any("demo model" in c for c in a.caveats) == demo
    assert a.decided_by == ("credentials" if label.startswith(("credentials", "declared", "conflict")) else
                            "detector" if label.startswith("detector") else "nothing")  # fmt: skip
    if state == "none":
        assert any("evidence of nothing" in c for c in a.caveats)
    if state == "valid" and a.decided_by == "credentials":
        assert any("anyone can make a certificate" in c for c in a.caveats)


def test_the_assessment_of_the_signed_videos(videos):
    labels = {}
    for kind, path in videos.items():
        evidence = read_evidence(path, 1.92)
        a = assess("real", 0.2, False, evidence)
        labels[kind] = a.label
        assert any(f.startswith("audio: AAC") for f in a.facts) and any("FFmpeg" in f for f in a.facts)
    assert labels == {"no_manifest": "detector_real", "declared_ai": "declared_ai_generated",
                      "ai_edited": "declared_ai_edited", "camera": "declared_camera_capture",
                      "tampered": "credentials_invalid", "garbage": "credentials_unreadable"}  # fmt: skip
    tampered = assess("fake", 0.7, True, read_evidence(videos["tampered"]))
    assert "assertion.bmffHash.mismatch" in tampered.reasons[0]
    with pytest.raises(ValueError, match="verdict"):
        assess("maybe", None, False, read_evidence(videos["tampered"]))


# ---------- flat columns: Parquet and the request log ----------


def test_flat_columns_have_one_schema_and_round_trip_through_parquet(videos, tmp_path):
    rows = []
    for kind, path in videos.items():
        evidence = read_evidence(path, 1.92)
        rows.append({"file": kind, **flat_columns(evidence, assess("real", 0.3, True, evidence))})
    assert len({tuple(r) for r in rows}) == 1  # the same keys whatever the file
    assert all(v is None or isinstance(v, str | bool | int | float) for r in rows for v in r.values())
    pd.DataFrame(rows).to_parquet(tmp_path / "scores.parquet")
    table = pd.read_parquet(tmp_path / "scores.parquet").set_index("file")
    assert table.loc["declared_ai", "declared_ai"] and not table.loc["tampered", "declared_ai"]
    assert table.loc["tampered", "credentials_failures"] == "assertion.bmffHash.mismatch"
    assert table.loc["camera", "container_device"] == "TestCam Fixture One"
    assert table.loc["declared_ai", "credentials_actions"] == "c2pa.created (trainedAlgorithmicMedia)"


def test_log_columns_go_into_the_request_log_and_monitoring_counts_them(videos, tmp_path):
    log = RequestLog(tmp_path / "log")
    day = 86_400.0
    start = pd.Timestamp("2026-12-01", tz="UTC").timestamp()
    kinds = ["declared_ai", "no_manifest", "tampered", "camera", "no_manifest", "declared_ai"]
    for i, kind in enumerate(kinds):
        evidence = read_evidence(videos[kind], 1.92)
        columns = log_columns(evidence, assess("real", 0.2, True, evidence))
        assert set(columns) == set(LOG_COLUMNS)
        log.append({"request_id": f"r{i}", "time": start + (i // 3) * day + i, "verdict": "real", **columns})
    log.append({"request_id": "old", "time": start + 1, "verdict": "real"})  # logged before evidence was recorded
    table = log.read()
    assert table.loc[0, "declared_ai"] == 1 and table.loc[0, "credentials_state"] == "valid"
    shares = evidence_shares(table, "1D")
    counts = shares[["uploads", "recorded", "with_credentials", "declared_ai", "credentials_failing"]]
    assert counts.values.tolist() == [[4, 3, 2, 1, 1], [3, 3, 2, 1, 0]]
    assert shares["share_with_credentials"].round(3).tolist() == [0.667, 0.667]
    assert "4 of 6 uploads (66.7%) carried Content Credentials, 2 (33.3%) declared AI" in shares_headline(shares)
    page = shares_html(shares)
    assert "2026-12-01 00:00 UTC" in page and "66.7%" in page


def test_an_old_request_log_gets_the_evidence_columns(tmp_path):
    import sqlite3

    folder = tmp_path / "old"
    folder.mkdir()
    with sqlite3.connect(folder / "requests.sqlite") as db:  # the schema before evidence was logged
        db.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, time REAL, "
                   "verdict TEXT)")  # fmt: skip
        db.execute("INSERT INTO requests (request_id, time, verdict) VALUES ('a', 1.0, 'real')")
    log = RequestLog(folder)
    log.append({"request_id": "b", "verdict": "fake", "has_credentials": 1, "credentials_state": "valid",
                "declared_ai": 1})  # fmt: skip
    table = log.read()
    assert table["has_credentials"].isna().tolist() == [True, False]
    assert evidence_shares(table.iloc[:1], "1D")["recorded"].tolist() == [0]
    assert "none with evidence recorded" in shares_headline(evidence_shares(table.iloc[:1], "1D"))


# ---------- where a person looks: the report and the page ----------


DEMO_MODEL = {"name": "deepfake-videomae", "version": "1", "stage": "production", "trained_on": "demo",
              "backend": "torch-fp32", "warning": "trained on synthetic demo data: this model is not a deepfake "
              "detector, its verdicts mean nothing"}  # fmt: skip
EVIDENCE_FIELDS = ("provenance", "container", "audio", "assessment")


@lru_cache(maxsize=1)
def _detector():
    from tiny_models import tiny_detector

    return tiny_detector(_params())


def _params():
    import video_factory as vf

    from deepfake_detection.config import ClipParams

    return ClipParams(size=64, clips_per_video=3, faces=vf.PHONE_FACES)


def _answer(path: Path) -> dict:
    """What /detect answers for `path`: the library's own answer (a tiny untrained model, labelled a demo
    model) with the file's evidence and the assessment, as JSON."""
    from deepfake_detection.scoring.analyze import analyze_video

    answer = analyze_video(path, _detector(), _params(), model=DEMO_MODEL, with_evidence=True)
    return {**answer.model_dump(mode="json"), "request_id": "0" * 32}


def test_the_report_has_an_evidence_section(videos, tmp_path):
    hostile = sign(videos["no_manifest"], tmp_path / "markup.mp4", manifest("<script>alert(1)</script>", [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
         "softwareAgent": "<img src=x onerror=alert(2)>"}]))  # fmt: skip
    answers = [{**_answer(videos[k]), "file": f"{k}.mp4"} for k in ("declared_ai", "tampered")]
    answers.append({**_answer(hostile), "file": "markup.mp4"})
    plain = {k: v for k, v in _answer(videos["no_manifest"]).items() if k not in EVIDENCE_FIELDS}
    answers.append({**plain, "file": "plain.mp4"})  # an answer without evidence: no section
    html = render_report(answers)
    assert html.count('class="evidence"') == 3
    assert "declared AI-generated" in html and "credentials fail verification (possible tampering)" in html
    assert "assertion.bmffHash.mismatch" in html and "C2PA Signer" in html and "c2pa.created" in html
    assert "trainedAlgorithmicMedia" in html and "AAC 16 kHz mono" in html and "x264 core" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "what it cannot mean" in html.lower() and "<td>declared AI-generated</td>" in html  # the summary row


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (.ci/run installs it)")
def test_the_page_shows_the_evidence_panel(videos, tmp_path):
    """The page as served, in headless Chromium, fed saved answers (no /detect needed): one per kind of panel."""
    page_html = (REPO / "serving" / "static" / "index.html").read_text()
    hostile = sign(videos["no_manifest"], tmp_path / "markup.mp4", manifest('<img src=x onerror="window.pwned=1">', [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]))  # fmt: skip
    answers = {k: _answer(videos[k]) for k in ("declared_ai", "tampered", "camera", "no_manifest")}  # faces, scored
    answers["markup"] = _answer(hostile)
    errors: list[str] = []
    with chromium_page(1200, 1000) as page:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("http://evidence.test/", lambda route: route.fulfill(body=page_html, content_type="text/html"))
        page.route("http://evidence.test/model", lambda route: route.fulfill(
            body=json.dumps(answers["declared_ai"]["model"] | {"base_model": "test", "threshold": 0.5}),
            content_type="application/json"))  # fmt: skip
        page.goto("http://evidence.test/")
        page.wait_for_selector("#model-warning[role=alert]")
        seen = {}
        for kind, answer in answers.items():
            page.evaluate("a => { document.getElementById('result').hidden = false; show(a); }", answer)
            page.wait_for_selector("#evidence:not([hidden]) #assessment")
            seen[kind] = {
                "label": page.get_attribute("#assessment", "data-label"),
                "headline": page.inner_text("#assessment"),
                "state": page.inner_text("#credentials-state"),
                "panel": page.inner_text("#evidence"),
            }
            if kind in ("declared_ai", "tampered"):
                page.locator("#answer-head").screenshot(path=str(ARTIFACTS / f"page_evidence_{kind}.png"))
            if kind == "declared_ai":
                page.screenshot(path=str(ARTIFACTS / "page_evidence_full.png"), full_page=True)
                assert page.locator(".face").count() == len(answer["faces"]) >= 1  # the person beside it
        # beside the verdict: the panel's left edge is right of the verdict column's left edge, on one row
        verdict_box, panel_box = page.locator(".verdict-col").bounding_box(), page.locator("#evidence").bounding_box()
        assert panel_box["x"] >= verdict_box["x"] + verdict_box["width"] - 1, (verdict_box, panel_box)
        assert abs(panel_box["y"] - verdict_box["y"]) < 40, (verdict_box, panel_box)
        assert page.evaluate("window.pwned") is None
        # an answer without evidence (a service that did not read it) hides the panel
        page.evaluate("a => show(a)", {k: v for k, v in answers["declared_ai"].items()
                                       if k not in ("provenance", "container", "audio", "assessment")})  # fmt: skip
        assert page.locator("#evidence").is_hidden()
    assert not errors, errors
    assert seen["declared_ai"]["label"] == "declared_ai_generated" and seen["declared_ai"]["state"] == "valid"
    assert answers["declared_ai"]["verdict"] in seen["declared_ai"]["panel"]  # the detector's own verdict, as it was
    assert "trainedAlgorithmicMedia" in seen["declared_ai"]["panel"] and "C2PA Signer" in seen["declared_ai"]["panel"]
    assert "no trust list configured" in seen["declared_ai"]["panel"]
    assert "AAC 16 kHz mono" in seen["declared_ai"]["panel"] and "meaningless" in seen["declared_ai"]["panel"]
    assert seen["tampered"]["headline"] == "credentials fail verification (possible tampering)"
    assert "assertion.bmffHash.mismatch" in seen["tampered"]["panel"] and seen["tampered"]["state"] == "invalid"
    assert "TestCam Fixture One" in seen["camera"]["panel"] and seen["camera"]["label"] == "declared_camera_capture"
    assert seen["no_manifest"]["state"] == "none" and "evidence of nothing" in seen["no_manifest"]["panel"]
    assert '<img src=x onerror="window.pwned=1">' in seen["markup"]["panel"]  # shown as text, never as markup


@pytest.mark.slow
def test_the_monitoring_step_reports_the_shares_on_a_real_zenml_store(videos, tmp_path):
    from zenml import pipeline
    from zenml.client import Client

    from deepfake_detection.monitoring.drift import MonitoringConfig
    from steps.monitoring.drift import load_current
    from steps.monitoring.evidence import evidence_report

    log = RequestLog(tmp_path / "log")
    for i, kind in enumerate(["declared_ai", "no_manifest", "camera", "tampered"]):
        evidence = read_evidence(videos[kind], 1.92)
        log.append(
            {"request_id": f"r{i}", "verdict": "real", **log_columns(evidence, assess("real", 0.1, True, evidence))}
        )

    @pipeline(enable_cache=False)
    def shares_only(config: MonitoringConfig):
        evidence_report(load_current(config), config)

    config = MonitoringConfig(request_log_dir=str(tmp_path / "log"), reports_dir=str(tmp_path / "reports"),
                              run_name="evidence", evidence_period="1h")  # fmt: skip
    run = Client().get_pipeline_run(shares_only(config).id)
    assert str(run.status) == "completed"
    shares = run.steps["evidence_report"].outputs["evidence_shares"][0].load()
    assert shares[["uploads", "with_credentials", "declared_ai", "credentials_failing"]].sum().tolist() == [4, 3, 1, 1]
    (page,) = (tmp_path / "reports").glob("evidence_*_evidence.html")
    assert "3 of 4 uploads (75.0%) carried Content Credentials, 1 (25.0%) declared AI" in page.read_text()

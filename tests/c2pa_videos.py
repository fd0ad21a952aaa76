"""Face videos with Content Credentials, signed in the tests with the C2PA SDK's public test keys (offline).

`make_c2pa_videos(folder)` writes one MP4 per kind the evidence must answer right, all of the carphone face
(48 frames, 176x144, 25 fps) with a 440 Hz AAC tone, so the service and CLI tests can analyse them too:

| kind | what | Provenance.state |
|---|---|---|
| `no_manifest` | the plain video | `none` |
| `declared_ai` | `c2pa.created` with IPTC `trainedAlgorithmicMedia` (declared AI-generated) | `valid` |
| `ai_edited` | `camera` as parent ingredient; `c2pa.edited` with `compositeWithTrainedAlgorithmicMedia` | `valid` |
| `camera` | device tags (make `TestCam`, model `Fixture One`); `c2pa.created` with `digitalCapture` | `valid` |
| `tampered` | `declared_ai` with 64 bytes of its video data changed after signing | `invalid` (bmffHash) |
| `garbage` | `declared_ai` with random bytes in its manifest box | `unreadable` |

`remote_only(folder, url)` adds a file whose manifest is only referenced by URL (never fetched). Keys and the
SDK's own samples: tests/fixtures/c2pa/ (see its README).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

KEYS = Path(__file__).resolve().parent / "fixtures" / "c2pa"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the MP4 `uuid` box that holds a C2PA manifest
FPS, FRAMES, RATE = 25, 48, 16_000
KINDS = ("no_manifest", "declared_ai", "ai_edited", "camera", "tampered", "garbage")


def signer_with_test_keys():
    """A signer with the SDK's public test certificate chain and key (ES256, no time-stamp authority)."""
    import c2pa

    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, (KEYS / "es256_certs.pem").read_bytes(),
                               (KEYS / "es256_private.key").read_bytes(), None)  # fmt: skip
    return c2pa.Signer.from_info(info)


def trust_anchor_of_test_keys() -> str:
    """The test chain's intermediate CA as PEM: configured as a trust list, it makes the test signer trusted."""
    pem = (KEYS / "es256_certs.pem").read_text()
    return pem[pem.index("-----BEGIN", 1) :]


def manifest(title: str, actions: list[dict], generator: str = "deepfake-videomae tests") -> dict:
    return {"claim_generator_info": [{"name": generator, "version": "1.0"}], "title": title, "format": "video/mp4",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}  # fmt: skip


def sign(source: Path, dest: Path, definition: dict, remote_url: str | None = None, parent: bool = False) -> Path:
    """`source` signed with the test keys into `dest` (embedded manifest, or only a URL with `remote_url`);
    `parent`: `source` (and its own manifest) becomes the new manifest's `parentOf` ingredient."""
    import c2pa

    with c2pa.Builder(definition) as builder, source.open("rb") as src, dest.open("wb") as out:
        if parent:  # an edit: the SDK adds the `c2pa.opened` action of the parent itself
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            builder.add_ingredient({"title": source.name, "relationship": "parentOf"}, "video/mp4", src)
            src.seek(0)
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer_with_test_keys(), "video/mp4", src, out)
    return dest


def face_video(path: Path, carphone: Path, device: dict[str, str] | None = None, audio_s: float = FRAMES / FPS) -> Path:
    """The carphone face (48 frames, H.264) with `audio_s` seconds of a mono AAC tone, as MP4; `device`: QuickTime
    tags to write."""
    import av

    from deepfake_detection.media.reader import VideoReader

    frames = VideoReader(carphone).get(range(FRAMES))
    options = {"movflags": "use_metadata_tags"} if device else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        container.metadata.update(device or {})
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.options = {"crf": "23", "preset": "superfast"}
        audio = container.add_stream("aac", rate=RATE)
        audio.layout = "mono"
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(video.encode(None))
        t = np.arange(int(RATE * audio_s)) / RATE
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for start in range(0, tone.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp",
                                               layout="mono")  # fmt: skip
            chunk.sample_rate = RATE
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))
    return path


def top_boxes(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of an MP4's top-level boxes."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        boxes.append((offset, size, kind))
        offset += max(size, 8)
    return boxes


def tamper(source: Path, dest: Path) -> Path:
    """`source` with 64 bytes of its media data (`mdat`) zeroed: the signed hash no longer matches."""
    data = bytearray(source.read_bytes())
    offset, size, _ = next(b for b in top_boxes(bytes(data)) if b[2] == b"mdat")
    at = offset + size // 2
    data[at : at + 64] = bytes(64)
    dest.write_bytes(bytes(data))
    return dest


def garble(source: Path, dest: Path) -> Path:
    """`source` with its C2PA manifest box kept in place but its content (the JUMBF store) random bytes."""
    data = bytearray(source.read_bytes())
    boxes = top_boxes(bytes(data))
    offset, size, _ = next(b for b in boxes if b[2] == b"uuid" and data[b[0] + 8 : b[0] + 24] == C2PA_UUID)
    start = offset + 8 + 16 + 16  # box header, uuid, then past the manifest box's own header fields
    data[start : offset + size] = np.random.default_rng(18).bytes(offset + size - start)
    dest.write_bytes(bytes(data))
    return dest


def make_c2pa_videos(folder: Path, carphone: Path) -> dict[str, Path]:
    """Every kind of KINDS under `folder` (see the module docstring); ~1 s."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = face_video(folder / "no_manifest.mp4", carphone)
    camera_plain = face_video(folder / "camera_unsigned.mp4", carphone,
                              {"com.apple.quicktime.make": "TestCam", "com.apple.quicktime.model": "Fixture One",
                               "com.apple.quicktime.creationdate": "2026-12-01T10:00:00+0100"})  # fmt: skip
    ai = sign(plain, folder / "declared_ai.mp4", manifest("declared_ai.mp4", [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
         "softwareAgent": {"name": "TestGen video model", "version": "1.0"}}]))  # fmt: skip
    camera = sign(camera_plain, folder / "camera.mp4", manifest("camera.mp4", [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture",
         "softwareAgent": {"name": "TestCam firmware", "version": "3.1"}}], generator="TestCam"))  # fmt: skip
    edited = sign(camera, folder / "ai_edited.mp4", manifest("ai_edited.mp4", [
        {"action": "c2pa.edited", "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia",
         "softwareAgent": "TestFill 2"}]), parent=True)  # fmt: skip
    camera_plain.unlink()
    return {
        "no_manifest": plain,
        "declared_ai": ai,
        "ai_edited": edited,
        "camera": camera,
        "tampered": tamper(ai, folder / "tampered.mp4"),
        "garbage": garble(ai, folder / "garbage.mp4"),
    }


def remote_only(folder: Path, carphone: Path, url: str) -> Path:
    """A face video whose manifest is not embedded, only referenced at `url` (a reader must not fetch it)."""
    plain = face_video(folder / "remote_unsigned.mp4", carphone)
    path = sign(plain, folder / "remote_only.mp4", manifest("remote_only.mp4", [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]), remote_url=url)  # fmt: skip
    plain.unlink()
    return path

"""The answer about one video, typed: what `/detect` returns, the CLI prints and writes, batch scoring flattens
and the HTML report renders.

One schema, built once (`scoring.analyze.decide`) and read everywhere, so the service, the command line and
the batch rows cannot drift apart, and a report posted back to the service is checked against the same
models it was made from. Numbers must be finite and embedded images base64 (an answer cannot carry markup
into a page). Everything here is what a person may read: no server path, no decoder message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence import Assessment, AudioTrack, ContainerFacts, Provenance

BASE64 = r"^[A-Za-z0-9+/]*={0,2}$"  # embedded images: anything else would be markup, not a picture
Scalar = str | int | float | bool | None
Verdict = Literal["fake", "real", "inconclusive"]


def _absent(value: object) -> bool:
    """Optional parts (heatmaps, thumbnails, ids) are left out of the JSON when absent rather than null."""
    return value is None


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Reason(_Part):
    """Why an answer is partial or inconclusive: a short `code` for programs and a sentence for people.

    Codes: `too_short`, `no_face`, `face_too_small`, `over_cap`, `faces_not_analysed`, `frames_lost`,
    `window_lost`.
    """

    code: str
    message: str


class TimelineEntry(_Part):
    """One clip of one person: its time span (s), p(fake), and the face's crop box.

    `box`: (x0, y0, x1, y1) in the middle frame, in pixels of the displayed picture (`video.width/height`);
    `boxes`: every frame's box with its time, [t_s, x0, y0, x1, y1], so a player can draw it in sync; with
    `explain`: `heatmap` (h x w tubelet relevance, time-averaged, 0-1) and `heatmap_png` (base64, over the crop).
    """

    start_s: float
    end_s: float
    p_fake: float
    box: list[int] = Field(min_length=4, max_length=4)
    boxes: list[list[float]] = Field(default_factory=list)
    heatmap: list[list[float]] | None = Field(None, exclude_if=_absent)
    heatmap_png: str | None = Field(None, pattern=BASE64, exclude_if=_absent)


class Person(_Part):
    """A person across the video (`face_index` 0 is the one seen in most windows) and their clips' scores.

    `p_fake`: mean over the person's clips; `face_size`: median face box side in pixels; `thumbnail_jpeg`: a
    small base64 JPEG of the face crop (service and CLI answers).
    """

    face_index: int
    p_fake: float
    face_size: float
    timeline: list[TimelineEntry]
    thumbnail_jpeg: str | None = Field(None, pattern=BASE64, exclude_if=_absent)


class PersonCounts(_Part):
    """How many faces the video showed and how many were analysed (see `data.clips.FaceCounts`)."""

    seen: int = 0
    analysed: int = 0
    too_small: int = 0
    over_cap: int = 0


class VideoFacts(_Part):
    """Facts of the analysed stream, as a viewer sees it (`media.probe.VideoInfo` without the path), and what
    reading it cost and lost (`media.reader.DecodeStats`). `notes`: the unusual things about the file, in words."""

    container: str
    codec: str
    pixel_format: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    sample_aspect_ratio: str
    rotation: int
    fps: float
    frame_count: int
    duration_s: float
    bitrate: int
    file_size: int
    start_s: float
    stream_index: int
    decoder: str
    timestamps: str
    discontinuities: int
    hidden_frames: int
    decode_plan: str = ""
    frames_decoded: int = 0
    frames_lost: int = 0
    notes: list[str] = Field(default_factory=list)


class Answer(_Part):
    """The answer about one video: the verdict and everything it stands on.

    `verdict`: fake / real (p_fake against `threshold`) or inconclusive (no usable face: never real);
    `p_fake`: video level, the mean over a person's clips, then the maximum over persons; `faces`: the
    persons analysed with their timelines; `persons`: counts of faces seen and left out; `reasons`: why the
    answer is partial or inconclusive; `timings`: seconds per stage; `model`: which model answered; the file's
    own evidence beside the pixels (when read): `provenance` (Content Credentials), `container` (tags, device,
    encoder), `audio` (the audio track) and `assessment` (the verdict and that evidence under the written rule,
    `evidence.assessment`; `verdict` and `p_fake` stay the model's own).
    """

    request_id: str | None = Field(None, exclude_if=_absent)  # the service's answers
    file: str | None = Field(None, exclude_if=_absent)  # the command line's
    verdict: Verdict
    p_fake: float | None
    threshold: float
    faces: list[Person]
    persons: PersonCounts = Field(default_factory=PersonCounts)
    video: VideoFacts
    reasons: list[Reason] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    model: dict[str, Scalar] | None = None
    provenance: Provenance | None = Field(None, exclude_if=_absent)
    container: ContainerFacts | None = Field(None, exclude_if=_absent)
    audio: AudioTrack | None = Field(None, exclude_if=_absent)
    assessment: Assessment | None = Field(None, exclude_if=_absent)


class ErrorAnswer(_Part):
    """A video that could not be analysed: `reason` a short code (`unreadable`, `over_limit`, ...), `error` a
    sentence for a person."""

    request_id: str | None = None
    file: str | None = None
    error: str
    reason: str
    model: dict[str, Scalar] | None = None


def parse_answer(data: dict) -> Answer | ErrorAnswer:
    """An answer read back (a report's input): an `ErrorAnswer` when it carries `error`, else an `Answer`.

    Raises pydantic's `ValidationError` (a `ValueError`) for anything else.
    """
    if not isinstance(data, dict):
        raise ValueError("an answer is a JSON object")
    return ErrorAnswer.model_validate(data) if "error" in data else Answer.model_validate(data)

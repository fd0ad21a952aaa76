"""The BentoML service: upload a video, get a verdict, a per-clip timeline per face, and the faces.

Two services, one process each under `bentoml serve`:

- `ClipScorer` holds the model and scores clips through a batchable API, so BentoML's adaptive batching
  merges clips of concurrent requests into one forward pass.
- `DeepfakeDetection` is the front door. `/detect` and the page are FastAPI routes mounted on it rather than
  a BentoML `Path` input, because an upload must be size-checked while it streams (413 before 200 MB are
  read), stored under a random name (BentoML's `Path` keeps the client's file name as the temp file suffix)
  and answered with precise status codes. Decoding, faces and clips are the library's, the same code that
  made the training clips. At most `max_concurrency` uploads are analysed at once; one more waits up to
  `queue_wait_s` for a slot before a 429, and every 429 and 503 says when to come back (`Retry-After`).
  BentoML's `timeout` -> 504.

Settings: `configs/serving.yaml` (or the file named by `DEEPFAKE_SERVING_CONFIG`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import bentoml
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.background import BackgroundTasks
from starlette.datastructures import UploadFile

from deepfake_detection.offline import apply_offline_env

apply_offline_env()

from deepfake_detection.config import model_geometry  # noqa: E402
from deepfake_detection.evidence import log_columns  # noqa: E402
from deepfake_detection.feedback.retention import retain_clips  # noqa: E402
from deepfake_detection.media.formats import SNIFF_BYTES, described, sniff_container  # noqa: E402
from deepfake_detection.media.probe import VideoError  # noqa: E402
from deepfake_detection.modeling import stored  # noqa: E402
from deepfake_detection.monitoring.request_log import RequestLog  # noqa: E402
from deepfake_detection.registry import describe_served_model  # noqa: E402
from deepfake_detection.scoring.analyze import (  # noqa: E402
    AnalysisTimeout,
    ExtractedVideo,
    classify_error,
    decide,
    error_message,
    extract_video,
)
from deepfake_detection.scoring.answer import Answer  # noqa: E402
from deepfake_detection.scoring.report_html import render_report  # noqa: E402
from deepfake_detection.scoring.worker_pool import JobTimeout, WorkerCrashed, WorkerPool  # noqa: E402
from deepfake_detection.service_settings import ServiceSettings  # noqa: E402
from serving.auth import BearerAuth, BearerAuthMiddleware  # noqa: E402
from serving.feedback import FeedbackAPI, feedback_router  # noqa: E402
from serving.model_calls import ModelUnreachable, call_retrying_dropped_connection  # noqa: E402

log = logging.getLogger("deepfake_detection.service")
settings = ServiceSettings.load()
STATIC = Path(__file__).resolve().parent / "static"
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file part
MAX_REPORT_BYTES = 16 * 1024 * 1024  # an answer with heatmaps is ~0.1-1 MB
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

verdicts_total = bentoml.metrics.Counter(
    name="deepfake_verdicts_total", documentation="Answered /detect requests by verdict", labelnames=["verdict"]
)
rejections_total = bentoml.metrics.Counter(
    name="deepfake_rejections_total",
    documentation="Rejected /detect requests by HTTP status and reason",
    labelnames=["status", "reason"],
)

app = FastAPI(title="deepfake-videomae", docs_url=None, redoc_url=None, openapi_url=None)
# reviews: POST /feedback (serving.feedback); bearer tokens for /detect and /feedback when configured (serving.auth)
app.add_middleware(BearerAuthMiddleware, auth=BearerAuth(settings.auth))
app.include_router(feedback_router(FeedbackAPI.from_settings(settings)))


def _served_model():
    """The BentoML model named in the settings, or a start-up error saying how to make one."""
    try:
        return bentoml.models.get(settings.model_tag)
    except bentoml.exceptions.NotFound as exc:
        raise RuntimeError(
            f"no model {settings.model_tag!r} in the BentoML store; run `make demo` (or the training pipeline) first"
        ) from exc


@bentoml.service(name="clip_scorer", traffic={"timeout": settings.request_timeout_s})
class ClipScorer:
    """The model: p(fake) of uint8 clips (N, 16, 224, 224, 3)."""

    def __init__(self) -> None:
        self.detector = None  # a modeling.detector.Detector once loaded
        self.bento_model = _served_model()
        # /readyz answers 503 until the weights are loaded; /livez answers at once
        threading.Thread(target=self._load, daemon=True).start()

    def _load(self) -> None:
        from deepfake_detection.modeling.detector import Detector  # torch: only this process needs it

        self.detector = Detector.load(self.bento_model.path, settings.inference_backend)
        log.info("loaded %s, scoring with %s", self.bento_model.tag, self.detector.backend)

    def __is_ready__(self) -> bool:
        return self.detector is not None

    @bentoml.api(
        batchable=True, batch_dim=0, max_batch_size=settings.max_batch_size, max_latency_ms=settings.max_latency_ms
    )
    def score(self, clips: np.ndarray) -> np.ndarray:
        return self._score(clips)

    @bentoml.api
    def score_unbatched(self, clips: np.ndarray) -> np.ndarray:
        return self._score(clips)

    @bentoml.api
    def explain(self, clips: np.ndarray) -> np.ndarray:
        """Tubelet relevance (N, t, h, w) in [0, 1]: attention rollout, only for `/detect?explain=true`."""
        if self.detector is None:
            raise bentoml.exceptions.ServiceUnavailable("model is still loading")
        return self.detector.explain(clips).astype(np.float32)

    def _score(self, clips: np.ndarray) -> np.ndarray:
        if self.detector is None:
            raise bentoml.exceptions.ServiceUnavailable("model is still loading")
        return self.detector.score(clips).astype(np.float32)


class Rejection(Exception):
    """A request answered with an error status; `reason` labels the rejection counter."""

    def __init__(self, status: int, reason: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.retry_after_s = status, reason, retry_after_s


@bentoml.service(
    name="deepfake_detection",
    http={"host": "127.0.0.1", "port": 3000},
    traffic={"timeout": settings.request_timeout_s},
)
@bentoml.asgi_app(app, path="/")
class DeepfakeDetection:
    """POST /detect (multipart field `video`; `?explain=true` adds heatmaps), POST /report (an answer as a one-page
    HTML report), GET / (the page), /model, /livez, /readyz, /metrics."""

    scorer = bentoml.depends(ClipScorer)

    def __init__(self) -> None:
        bento_model = _served_model()
        self.threshold, info = stored.read_meta(bento_model.path)
        self.model = describe_served_model(str(bento_model.tag), bento_model.info.labels, info)
        self.model["backend"] = stored.backend_of(bento_model.path, info, settings.inference_backend)
        self.fast_path = info.get("fast_path")
        geometry = model_geometry(info)
        if geometry is None:
            log.warning("model %s does not record its clip geometry; using the defaults", bento_model.tag)
        self.clip_params = settings.clip_params(geometry or {})
        self.request_log = RequestLog(settings.request_log_dir)
        self.upload_dir = Path(settings.upload_dir or tempfile.gettempdir())
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.pool = WorkerPool(settings.decode_workers, initializer=_warm_up)
        self.slots = asyncio.Semaphore(settings.max_concurrency)
        self.shadow = None  # the challenger scored after each answer (`shadow:` in the settings; torch then loads here)
        if settings.shadow != "off":
            from serving.shadow import ShadowScorer

            self.shadow = ShadowScorer(settings.shadow, settings.request_log_dir, settings.shadow_queue).start()
        self.typical_s = 5.0  # a running mean of answered requests' seconds: what Retry-After asks a client to wait
        log.info("serving %s (threshold %.4f), clips %s", self.model, self.threshold, self.clip_params)

    @app.get("/")
    def index(self) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/model")
    def model_info(self) -> dict:
        return {**self.model, "threshold": self.threshold, "clip_params": self.clip_params.model_dump(),
                "fast_path": self.fast_path, "shadow": self.shadow.stats() if self.shadow else None}  # fmt: skip

    @app.post("/report")
    async def report(self, request: Request) -> HTMLResponse:
        """The one-page HTML report of a `/detect` answer (the page's download; the CLI writes the same).

        JSON only (415 otherwise: a form on another site cannot post one), at most MAX_REPORT_BYTES however the
        body is sent (413), an answer's shape checked (400); the page it returns may run no script (CSP).
        """
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send the answer as application/json", "reason": "not_json"}, 415)
        body = bytearray()
        async for chunk in request.stream():  # counted as it arrives: a chunked body has no content-length
            body += chunk
            if len(body) > MAX_REPORT_BYTES:
                message = f"a report body is limited to {MAX_REPORT_BYTES} bytes"
                return JSONResponse({"error": message, "reason": "too_large"}, 413)
        try:
            html = render_report([json.loads(body)])
        except (ValueError, RecursionError) as exc:  # bad JSON, or JSON that is not an answer
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]
                message = f"{'.'.join(map(str, first['loc'])) or 'answer'}: {first['msg']}"
            else:
                message = str(exc) or type(exc).__name__
            return JSONResponse({"error": f"not a /detect answer: {message}", "reason": "bad_report"}, 400)
        return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})

    @app.post("/detect")
    async def detect(self, request: Request, explain: str = "false") -> JSONResponse:
        """Analyse the uploaded video (multipart field `video`): the `Answer` as JSON, or an error with its reason."""
        request_id = uuid.uuid4().hex
        started = time.monotonic()
        path = self.upload_dir / f"upload-{request_id}.video"  # never the client's file name
        try:
            with_heatmaps = _flag("explain", explain)
            after = BackgroundTasks()  # run once the answer has left: retained clips, the shadow challenger
            async with self._slot():
                answer = await self._answer(request, path, request_id, started, with_heatmaps, after)
        except Rejection as exc:
            rejections_total.labels(status=str(exc.status), reason=exc.reason).inc()
            body = {"error": str(exc), "reason": exc.reason, "request_id": request_id}
            headers = {"Retry-After": str(math.ceil(exc.retry_after_s))} if exc.retry_after_s is not None else None
            return JSONResponse(body, exc.status, headers=headers)
        finally:
            path.unlink(missing_ok=True)
        verdicts_total.labels(verdict=answer.verdict).inc()
        self.typical_s = 0.8 * self.typical_s + 0.2 * (time.monotonic() - started)
        return JSONResponse(answer.model_dump(mode="json"), background=after)

    async def _answer(
        self, request: Request, path: Path, request_id: str, started: float, heatmaps: bool, after: BackgroundTasks
    ) -> Answer:
        """Receive, extract (a worker process), score (the batched model service), decide, log; queue in `after`
        what runs once the answer has left."""
        await self._receive_upload(request, path)
        extracted = await self._extract(path, started)
        t0 = time.monotonic()
        pixels = extracted.pixels()
        scores = await self._score(pixels)
        extracted.timings["model_s"] = time.monotonic() - t0
        relevance = None
        if heatmaps and pixels is not None:
            t0 = time.monotonic()
            relevance = np.asarray(await self._model_call(lambda: self.scorer.to_async.explain(pixels), "heatmaps"))
            extracted.timings["explain_s"] = time.monotonic() - t0
        answer = decide(extracted, scores, self.threshold, relevance, self.model)
        answer.request_id = request_id
        row = {"request_id": request_id, "model_name": self.model["name"], "model_version": self.model["version"],
               "verdict": answer.verdict, "p_fake": answer.p_fake, "reasons": [r.code for r in answer.reasons],
               **(extracted.features or {}), **log_columns(extracted.evidence, answer.assessment)}  # fmt: skip
        await anyio.to_thread.run_sync(self.request_log.append, row)  # durable before the answer leaves
        if settings.retention.enabled and extracted.clips:  # a privacy choice: off unless the settings say so
            retention = settings.retention
            after.add_task(retain_clips, retention.clip_store, self.clip_params, request_id, extracted.clips,
                           retention.days, self.model["version"], retention.clip_format)  # fmt: skip
        if self.shadow is not None and pixels is not None:
            task = self.shadow.after_answer(request_id, pixels, [c.face_index for c in extracted.clips],
                                            self.model["version"], answer.p_fake)  # fmt: skip
            after.add_task(task.func, *task.args)
        return answer

    @contextlib.asynccontextmanager
    async def _slot(self):
        """One of `max_concurrency` analysis slots, waited for up to `queue_wait_s`; else 429 with Retry-After."""
        try:
            await asyncio.wait_for(self.slots.acquire(), timeout=settings.queue_wait_s)
        except TimeoutError:
            raise Rejection(
                429, "busy", f"all {settings.max_concurrency} analysis slots are busy; try again shortly",
                retry_after_s=max(1.0, self.typical_s),
            ) from None  # fmt: skip
        try:
            yield
        finally:
            self.slots.release()

    async def _extract(self, path: Path, started: float) -> ExtractedVideo:
        """Decode, find faces and cut clips in a worker process, within what is left of the request's time.

        Native decoders meet untrusted bytes here: in a separate process a crash costs one request, not the
        service; a decode stuck in native code past the deadline is killed and its worker replaced
        (`worker_pool`); and decoding uses every core.
        """
        allowed = 0.9 * settings.request_timeout_s  # the analysis's share of the request's time
        budget = allowed - (time.monotonic() - started)
        job = self.pool.run(extract_video, str(path), self.clip_params, settings.limits, time_budget_s=budget,
                            with_features=True, with_evidence=True, timeout_s=budget + 5)  # fmt: skip
        try:
            # answered by 0.95 x request_timeout_s even when the job is still in its last clip (it stops there by
            # itself): past request_timeout_s BentoML answers its own 504, with no reason a client can act on
            return await asyncio.wait_for(job, timeout=max(budget, 0.0) + 0.05 * settings.request_timeout_s)
        except (JobTimeout, AnalysisTimeout, TimeoutError) as exc:
            raise Rejection(504, "timeout", f"analysis did not finish in {allowed:.3g} s") from exc
        except VideoError as exc:
            status, reason = classify_error(exc)
            log.info("request file %s: %s (%s)", path.name, exc.message, exc.detail or reason)
            raise Rejection(status, reason, error_message(exc)) from exc
        except WorkerCrashed as exc:
            log.error("a decoding worker died on request file %s (%s); it was replaced", path.name, exc)
            raise Rejection(422, "decoder_crashed", "the video decoder crashed on this file") from exc

    async def _score(self, pixels: np.ndarray | None) -> np.ndarray:
        if pixels is None:
            return np.zeros(0, dtype=np.float32)
        api = self.scorer.to_async.score if settings.adaptive_batching else self.scorer.to_async.score_unbatched
        return np.asarray(await self._model_call(lambda: api(pixels), "scoring"))

    async def _model_call(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        """A call to the model service: a dropped connection retried once (`model_calls`), a model still loading
        or not answering a 503 that says when to come back."""
        try:
            return await call_retrying_dropped_connection(call, what)
        except bentoml.exceptions.ServiceUnavailable as exc:
            raise Rejection(503, "loading", "the model is still loading; try again shortly", retry_after_s=5) from exc
        except ModelUnreachable as exc:
            log.error("%s", exc)
            raise Rejection(503, "model_unreachable", "the model service is not answering; try again shortly",
                            retry_after_s=5) from exc  # fmt: skip

    async def _receive_upload(self, request: Request, path: Path) -> None:
        """Stream the multipart body to `path`, rejecting oversized, missing and non-video uploads."""
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
            raise Rejection(413, "too_large", f"request body is {declared} bytes; uploads are limited to {limit}")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise Rejection(400, "not_multipart", "send the video as multipart/form-data in the field 'video'")
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await request.receive()
            received += len(message.get("body", b""))
            if received > limit + MULTIPART_SLACK:
                raise Rejection(413, "too_large", f"request body is over the upload limit of {limit} bytes")
            return message

        form = await Request(request.scope, limited_receive).form(max_files=1, max_fields=8)
        try:
            upload = form.get("video")
            if not isinstance(upload, UploadFile):
                raise Rejection(400, "no_video_field", "no file in the multipart field 'video'")
            if upload.size is not None and upload.size > limit:
                raise Rejection(413, "too_large", f"video is {upload.size} bytes; uploads are limited to {limit}")
            upload.file.seek(0)
            head = upload.file.read(SNIFF_BYTES)
            if not head:
                raise Rejection(415, "empty", "the uploaded video is empty (0 bytes)")
            if sniff_container(head) is None:
                raise Rejection(415, "not_a_video", f"not a video container this service accepts ({described()})")
            upload.file.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
        finally:
            await form.close()


def _flag(name: str, value: str) -> bool:
    """A query flag: 1/true/yes/on or 0/false/no/off/empty; anything else is the client's mistake (400)."""
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise Rejection(400, f"bad_{name}", f"{name}={value!r}: use true or false")


def _warm_up() -> None:
    import deepfake_detection.scoring.analyze  # noqa: F401  (PyAV, OpenCV, dlib loaded before the first upload)

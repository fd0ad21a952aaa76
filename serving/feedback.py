"""`POST /feedback`: a person's review of an answered request, stored before it is acknowledged.

JSON (never a form: a page on another site cannot send JSON here without CORS allowing it):

    {"request_id": "<the /detect answer's request_id>", "label": "confirmed_fake" | "actually_real" | "unsure",
     "reviewer": "who", "note": "optional text", "review_id": "optional, makes a retry idempotent"}

Answers: 201 with the stored review (committed to the database: acknowledged means durable); 200 when the same
`review_id` was stored before; 400 bad JSON or field (the message names it); 404 no answered request has that
id; 409 `review_id` reused with other content; 413 body over 64 KiB; 415 not JSON; 503 the database could not
be reached (nothing stored: retry). `GET /feedback/labels` lists the vocabulary, `GET /feedback/{request_id}`
the reviews of a request. Bearer-token auth for reviewers: `serving.auth` (the `feedback` group).

Wiring (`serving/service.py`): `app.include_router(feedback_router(FeedbackAPI.from_settings(settings)))`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from deepfake_detection.feedback.reviews import (
    LABELS,
    InvalidReview,
    ReviewConflict,
    ReviewStore,
    UnknownRequest,
    lookup_request,
    submit_review,
)
from deepfake_detection.service_settings import ServiceSettings

log = logging.getLogger("deepfake_detection.service.feedback")
MAX_BODY_BYTES = 64 * 1024
FIELDS = {"request_id", "label", "reviewer", "note", "review_id", "source"}


class FeedbackAPI:
    """The review store and where answered requests are logged: what the routes need."""

    def __init__(self, store: ReviewStore, request_log_dirs: list[str | Path], max_note_chars: int = 2000) -> None:
        self.store, self.request_log_dirs, self.max_note_chars = store, list(request_log_dirs), max_note_chars

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> FeedbackAPI:
        store = ReviewStore(settings.reviews.url(settings.request_log_dir))
        log.info("reviews: %r", store)
        return cls(store, [settings.request_log_dir], settings.reviews.max_note_chars)

    def submit(self, body: dict) -> tuple[int, dict]:
        """(status, answer) for one review body; the routes call it in a worker thread."""
        unknown = set(body) - FIELDS
        if unknown:
            return 400, _error(f"unknown fields {sorted(unknown)}; send {sorted(FIELDS - {'source'})}", "bad_field")
        source = body.get("source", "api")
        if source not in ("api", "page", "cli"):
            return 400, _error("source must be api, page or cli", "bad_field")
        try:
            review, created = submit_review(
                self.store, self.request_log_dirs, body.get("request_id"), body.get("label"), body.get("reviewer"),
                body.get("note"), source, body.get("review_id"), self.max_note_chars,
            )  # fmt: skip
        except InvalidReview as exc:
            return 400, _error(str(exc), "bad_review")
        except UnknownRequest as exc:
            return 404, _error(f"{exc}: review the request_id of a /detect answer", "unknown_request")
        except ReviewConflict as exc:
            return 409, _error(str(exc), "review_id_conflict")
        except SQLAlchemyError as exc:
            log.error("review not stored, the database failed: %s", type(exc).__name__)
            return 503, _error("the review store is unavailable; the review was NOT stored, retry", "store_unavailable")
        return (201 if created else 200), {"stored": True, "created": created, "review": review.as_dict()}

    def reviews_of(self, request_id: str) -> tuple[int, dict]:
        try:
            reviews = self.store.for_request(request_id)
        except SQLAlchemyError:
            return 503, _error("the review store is unavailable", "store_unavailable")
        if not reviews and not any(lookup_request(d, request_id) for d in self.request_log_dirs):
            return 404, _error(f"no answered request has the id {request_id[:64]}", "unknown_request")
        return 200, {"request_id": request_id, "reviews": [r.as_dict() for r in reviews]}


def feedback_router(api: FeedbackAPI, auth=None) -> APIRouter:
    """The routes. `auth`: a `serving.auth.BearerAuth` to check reviewers' tokens here (not needed when
    `BearerAuthMiddleware` guards /feedback already)."""
    router = APIRouter()

    def denied(request: Request) -> JSONResponse | None:
        return auth.denied(request.headers, "feedback") if auth is not None else None

    @router.get("/feedback/labels")
    def labels() -> dict:
        return {"labels": LABELS}

    @router.post("/feedback")
    async def post_feedback(request: Request) -> JSONResponse:
        if (refused := denied(request)) is not None:
            return refused
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return JSONResponse(_error("send the review as application/json", "not_json"), 415)
        body = bytearray()
        async for chunk in request.stream():  # counted as it arrives: a chunked body has no content-length
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse(_error(f"a review is limited to {MAX_BODY_BYTES} bytes", "too_large"), 413)
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return JSONResponse(_error("the body is not valid JSON", "bad_json"), 400)
        if not isinstance(parsed, dict):
            return JSONResponse(_error("send one JSON object with request_id, label and reviewer", "bad_json"), 400)
        status, answer = await anyio.to_thread.run_sync(api.submit, parsed)
        return JSONResponse(answer, status)

    @router.get("/feedback/{request_id}")
    async def get_feedback(request_id: str, request: Request) -> JSONResponse:
        if (refused := denied(request)) is not None:
            return refused
        status, answer = await anyio.to_thread.run_sync(api.reviews_of, request_id)
        return JSONResponse(answer, status)

    return router


def _error(message: str, reason: str) -> dict:
    return {"error": message, "reason": reason}

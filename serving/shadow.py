"""A challenger in shadow: another registry version scores each request's clips after the answer has left.

Setting `shadow:` in the serving settings: `staging` (the registry's staging version), `version:N`, or `off`
(the default). The challenger never changes an answer and never delays one: the handler hands the request's
clips over in a Starlette background task (`ShadowScorer.after_answer`), which runs once the response has been
sent; the task only puts them on a bounded queue (`shadow_queue`), and when that queue is full the request is
dropped and counted (`stats()["dropped_full"]`) instead of waiting. One daemon thread, at a lower CPU priority
(nice +10), loads the challenger (in the background, so start-up is not delayed; requests before it is ready
are counted as `dropped_not_ready`) and scores the queue with the same video rule as the service (mean over a
person's clips, max over persons). Each score is committed to the `shadow_scores` table beside the request log
(`feedback.shadow_log`), with production's version and p_fake in the same row.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from starlette.background import BackgroundTask

from deepfake_detection.feedback.shadow_log import ShadowLog
from deepfake_detection.metrics.video_rule import video_scores
from deepfake_detection.modeling.detector import Detector
from deepfake_detection.registry import MODEL_NAME

log = logging.getLogger("deepfake_detection.service.shadow")


@dataclass
class ShadowJob:
    request_id: str
    pixels: np.ndarray  # uint8 (N, T, H, W, 3): the clips production scored
    face_indices: list[int]  # each clip's person
    production_version: str | None
    production_p_fake: float | None


def resolve_challenger(setting: str, model_name: str = MODEL_NAME) -> tuple[Detector, str]:
    """(detector, registry version) of `staging` or `version:N`, through the registry (`registry`)."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    from deepfake_detection.registry import resolve_model_folder

    if setting == "staging":
        try:
            setting = f"version:{Client().get_model_version(model_name, ModelStages.STAGING).name}"
        except KeyError as exc:
            raise LookupError(f"no staging version of {model_name} to run in shadow") from exc
    folder, provenance = resolve_model_folder(setting, model_name)
    return Detector.load(folder), str(provenance.get("version"))


class ShadowScorer:
    """The background challenger. `loader` returns (detector, version); by default `resolve_challenger(setting)`."""

    def __init__(
        self,
        setting: str,
        request_log_dir: str,
        queue_size: int = 8,
        loader: Callable[[], tuple[Detector, str]] | None = None,
        nice: int = 10,
        torch_threads: int | None = 1,
    ) -> None:
        if setting == "off":
            raise ValueError("shadow is off: build no ShadowScorer")
        self.setting = setting
        self.log = ShadowLog(request_log_dir)
        self.queue: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=queue_size)
        self._loader = loader or (lambda: resolve_challenger(setting))
        self._nice, self._torch_threads = nice, torch_threads
        self.detector: Detector | None = None
        self.version: str | None = None
        self.error: str | None = None
        self._counts = {"queued": 0, "scored": 0, "dropped_full": 0, "dropped_not_ready": 0, "failed": 0}
        self._seconds: list[float] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="shadow-challenger", daemon=True)

    def start(self) -> ShadowScorer:
        self._thread.start()
        return self

    @property
    def ready(self) -> bool:
        return self.detector is not None

    def submit(self, job: ShadowJob) -> bool:
        """Queue a request for the challenger without ever waiting: False (and counted) when dropped."""
        if not self.ready:
            self._count("dropped_not_ready")
            return False
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            self._count("dropped_full")
            return False
        self._count("queued")
        return True

    def after_answer(
        self,
        request_id: str,
        pixels: np.ndarray | None,
        face_indices: list[int],
        production_version: str | None,
        production_p_fake: float | None,
    ) -> BackgroundTask | None:
        """A background task for the answer's response (`JSONResponse(..., background=...)`): it queues the clips
        after the response was sent. None when there is no clip to score."""
        if pixels is None or not len(pixels):
            return None
        job = ShadowJob(request_id, pixels, list(face_indices), production_version, production_p_fake)
        return BackgroundTask(self.submit, job)

    def stats(self) -> dict:
        """Counts (queued, scored, dropped_full, dropped_not_ready, failed), queue depth, challenger, seconds."""
        with self._lock:
            seconds = list(self._seconds)
        return {**self._counts, "waiting": self.queue.qsize(), "version": self.version, "setting": self.setting,
                "ready": self.ready, "error": self.error,
                "median_seconds": float(np.median(seconds)) if seconds else None}  # fmt: skip

    def close(self, timeout: float = 10) -> None:
        """Stop after the queued requests are scored (or `timeout`)."""
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        if self._torch_threads:
            import torch

            torch.set_num_threads(self._torch_threads)
        try:
            self.detector, self.version = self._loader()
            log.info("shadow challenger %s (version %s, %s) ready", self.setting, self.version, self.detector.backend)
        except Exception as exc:  # a missing challenger must never take the service down
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("shadow challenger %s could not be loaded, shadow scoring is off: %s", self.setting, self.error)
            return
        while (job := self.queue.get()) is not None:
            try:
                self._score(job)
            except Exception as exc:  # one bad request never stops the challenger
                self._count("failed")
                log.warning("shadow scoring of request %s failed: %s", job.request_id, exc)

    def _score(self, job: ShadowJob) -> None:
        started = time.monotonic()
        scores = self.detector.score(job.pixels)
        table = pd.DataFrame({"video_id": "v", "face_index": job.face_indices, "p_fake": scores, "is_fake": 0})
        p_fake = float(video_scores(table).p_fake.iloc[0])
        seconds = time.monotonic() - started
        self.log.append({
            "request_id": job.request_id, "model_version": self.version, "p_fake": p_fake,
            "verdict": "fake" if p_fake >= self.detector.threshold else "real", "threshold": self.detector.threshold,
            "clips": len(scores), "production_version": job.production_version,
            "production_p_fake": job.production_p_fake, "seconds": seconds,
        })  # fmt: skip
        with self._lock:
            self._seconds = [*self._seconds[-999:], seconds]
        self._count("scored")

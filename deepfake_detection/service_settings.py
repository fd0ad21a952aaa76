"""Settings of the BentoML service, read from one YAML file (`configs/serving.yaml` by default).

`DEEPFAKE_SERVING_CONFIG` names another file; tests use it to start servers with small limits. BentoML's
own traffic settings (timeout, max concurrency) are taken from here too, so one file says how the service
behaves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from deepfake_detection.config import AnalysisParams, ClipFormat

ENV_VAR = "DEEPFAKE_SERVING_CONFIG"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "configs" / "serving.yaml"


class TokenScope(BaseModel):
    """Bearer tokens that open one group of routes; none configured: the group is open (no auth)."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[SecretStr] = Field(default_factory=list, description="accepted tokens (prefer tokens_env)")
    tokens_env: str | None = Field(None, description="environment variable with comma-separated tokens")

    def resolved(self) -> list[str]:
        """Every accepted token: the listed ones and those in `tokens_env` (read now, so a restart rotates)."""
        from_env = os.environ.get(self.tokens_env, "") if self.tokens_env else ""
        tokens = [t.get_secret_value().strip() for t in self.tokens] + [t.strip() for t in from_env.split(",")]
        return [t for t in tokens if t]


class AuthSettings(BaseModel):
    """Optional bearer-token auth (`serving.auth`): `/detect` (clients) and `/feedback` (reviewers) separately.

    Off by default; the service says loudly when it is reached beyond loopback with a group left open.
    """

    model_config = ConfigDict(extra="forbid")

    detect: TokenScope = Field(default_factory=TokenScope, description="tokens for /detect (and /report)")
    feedback: TokenScope = Field(default_factory=TokenScope, description="tokens for /feedback (reviewers)")


class ReviewSettings(BaseModel):
    """Where reviews (`POST /feedback`, the page, the CLI) are stored (`reviews:`; `feedback.reviews`)."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        None, description="any SQLAlchemy URL (postgresql+psycopg://...); None: SQLite beside the request log"
    )
    database_url_env: str | None = Field(None, description="environment variable holding the URL (for passwords)")
    max_note_chars: int = Field(2000, ge=0, description="longer notes get 400")

    def url(self, request_log_dir: str | Path) -> str:
        """The store's URL: the environment variable's, else `database_url`, else SQLite in `request_log_dir`."""
        named = os.environ.get(self.database_url_env) if self.database_url_env else None
        if named:
            return named
        return self.database_url or f"sqlite:///{Path(request_log_dir) / 'reviews.sqlite'}"


class RetentionSettings(BaseModel):
    """Retained clips (`retention:`; `feedback.retention`): a privacy choice, off by default.

    On, the service keeps each answered request's face clips (never the upload) for `days`, so that reviewed
    requests can be evaluated and trained on; `deepfake-detect purge-clips` deletes expired ones.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="keep face clips of answered requests")
    days: float = Field(30.0, gt=0, description="how long a request's clips are kept")
    clip_store: str = Field(".cache/serving/retained_clips", description="a folder or an fsspec URL")
    clip_format: ClipFormat = Field("jpeg", description="how retained clips are stored")


class ServiceSettings(AnalysisParams):
    """The service's settings (`configs/serving.yaml`); an upload is analysed as `AnalysisParams` say (a video
    over `limits` gets 422 before any frame is decoded)."""

    model_tag: str = Field("deepfake-videomae:latest", description="BentoML model to serve")
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1, description="larger uploads get 413")
    request_timeout_s: float = Field(120, gt=0, description="BentoML traffic.timeout: a slower request gets 504")
    max_concurrency: int = Field(4, ge=1, description="uploads analysed at once; more wait up to queue_wait_s")
    queue_wait_s: float = Field(10.0, ge=0, description="how long an upload waits for a slot before a 429")
    decode_workers: int = Field(2, ge=1, description="processes that decode uploads and find faces")
    inference_backend: Literal["auto", "torch"] = Field(
        "auto", description="auto: the model's checked OpenVINO fast path when it has one; torch: always fp32"
    )
    adaptive_batching: bool = Field(True, description="score clips through the batchable API (off: one call each)")
    max_batch_size: int = Field(16, ge=1, description="clips per model batch")
    max_latency_ms: int = Field(20_000, ge=1, description="how long a batch may wait for more clips")
    request_log_dir: str = Field(".cache/serving", description="SQLite request log (drift monitoring reads it)")
    upload_dir: str | None = Field(None, description="where uploads are spooled; None: the system temp dir")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="bearer tokens for /detect and /feedback")
    reviews: ReviewSettings = Field(default_factory=ReviewSettings, description="the review store")
    retention: RetentionSettings = Field(default_factory=RetentionSettings, description="retained face clips")
    shadow: str = Field(
        "off", pattern=r"^(off|staging|version:\d+)$",
        description="a challenger scored after each answer: staging, version:N (registry) or off",
    )  # fmt: skip
    shadow_queue: int = Field(8, ge=1, description="requests waiting for the challenger; more are dropped, counted")

    @classmethod
    def load(cls, path: str | Path | None = None) -> ServiceSettings:
        """Settings from `path`, else the file in $DEEPFAKE_SERVING_CONFIG, else the default file (built-in
        defaults when that is absent, as in a bare install). Raises FileNotFoundError for a named file that is not
        there, ValueError for one that is not a YAML mapping of known settings."""
        named = path or os.environ.get(ENV_VAR)
        path = Path(named or DEFAULT_FILE)
        if named and not path.is_file():
            raise FileNotFoundError(f"{path}: no such settings file")
        try:
            data = yaml.safe_load(path.read_text()) if path.is_file() else {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not YAML ({exc})") from exc
        if not isinstance(data or {}, dict):
            raise ValueError(f"{path}: settings must be a YAML mapping")
        return cls(**(data or {}))

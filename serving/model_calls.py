"""Calls from the front door to the model service that survive BentoML's client dropping a connection.

BentoML 1.4's client for a dependency service (`_bentoml_impl/client/proxy2.py`, `SessionManager`) replaces its
aiohttp session every 100 requests or 300 s and closes the old one at once, even while another request is still in
flight on it; that request fails with `ServerDisconnectedError` (BentoML issue #4971; PR #5698, still open, adds the
same retry). Measured in `benchmarks/soak_service.py`: 2 of 500 uploads at concurrency 2 answered 500. Scoring
clips is idempotent, so a call that fails at the connection level is made once more, on the client's fresh session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModelUnreachable(Exception):
    """The model service dropped the connection twice running: it is down or restarting, not a bad upload."""


async def call_retrying_dropped_connection(call: Callable[[], Awaitable[T]], what: str = "model call") -> T:
    """`await call()`; on a connection-level failure (`aiohttp.ClientConnectionError`: the server disconnected,
    the connection was reset or its session closed) once more. Raises `ModelUnreachable` when the retry fails too;
    any other error (a 4xx/5xx answer, a timeout) passes through untouched, unretried."""
    try:
        return await call()
    except aiohttp.ClientConnectionError as first:
        log.warning("%s: the connection to the model service dropped (%s); retrying once", what, first)
        try:
            return await call()
        except aiohttp.ClientConnectionError as second:
            raise ModelUnreachable(f"{what}: the model service dropped the connection twice ({second})") from second

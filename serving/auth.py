"""Optional bearer-token auth: one group of tokens for `/detect` (clients), another for `/feedback` (reviewers).

Settings: `auth:` in `configs/serving.yaml` (`deepfake_detection.service_settings.AuthSettings`):

```yaml
auth:
  detect:   {tokens_env: DEEPFAKE_DETECT_TOKENS}     # comma-separated tokens in that variable
  feedback: {tokens_env: DEEPFAKE_REVIEWER_TOKENS}
```

A group with no token is open: that is the default, meant for a service on loopback. Status codes follow
RFC 6750: no or malformed `Authorization: Bearer <token>` -> 401; a token this service does not know -> 401
(`invalid_token`); a token of the other group (a client's token on `/feedback`) -> 403 (`insufficient_scope`).
Tokens are compared in constant time. When the service is reached on an address other than loopback while a
group is open, `BearerAuthMiddleware` logs a loud warning once (`exposure_warnings` says the same at start).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from deepfake_detection.service_settings import AuthSettings

log = logging.getLogger("deepfake_detection.service.auth")
SCOPES = ("detect", "feedback")
# which routes each group guards: a path or a path prefix followed by "/"
DEFAULT_PATHS = {"/detect": "detect", "/report": "detect", "/feedback": "feedback"}
REALM = "deepfake-videomae"


class BearerAuth:
    """The tokens of each group, resolved once (settings and environment) when the service starts."""

    def __init__(self, settings: AuthSettings) -> None:
        self.tokens = {scope: [t.encode() for t in getattr(settings, scope).resolved()] for scope in SCOPES}

    def enabled(self, scope: str) -> bool:
        return bool(self.tokens[scope])

    def _known(self, token: bytes, scope: str) -> bool:
        # every token is compared, so the time taken does not say which one nearly matched
        return any([hmac.compare_digest(token, t) for t in self.tokens[scope]])

    def check(self, authorization: str | None, scope: str) -> tuple[int, str, str] | None:
        """None when the request may pass, else (status, reason, message) to answer with."""
        if not self.enabled(scope):
            return None
        kind, _, token = (authorization or "").strip().partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return 401, "unauthorized", f"{_what(scope)} needs a bearer token: send 'Authorization: Bearer <token>'"
        token_bytes = token.strip().encode()
        if self._known(token_bytes, scope):
            return None
        if any(self._known(token_bytes, other) for other in SCOPES if other != scope):
            return 403, "forbidden", f"this token is not allowed to use {_what(scope)}"
        return 401, "invalid_token", "the bearer token is not valid for this service"

    def denied(self, headers, scope: str) -> JSONResponse | None:
        """For a handler: the 401/403 answer when `headers` (a request's) do not carry a token for `scope`."""
        problem = self.check(headers.get("authorization"), scope)
        return None if problem is None else _answer(*problem)


def _what(scope: str) -> str:
    return "/feedback (reviewers)" if scope == "feedback" else "/detect"


def _answer(status: int, reason: str, message: str) -> JSONResponse:
    error = {
        "unauthorized": "",
        "invalid_token": ', error="invalid_token"',
        "forbidden": ', error="insufficient_scope"',
    }
    return JSONResponse({"error": message, "reason": reason}, status,
                        headers={"WWW-Authenticate": f'Bearer realm="{REALM}"{error[reason]}'})  # fmt: skip


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; "0.0.0.0" (every interface) is not."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warnings(host: str, auth: BearerAuth) -> list[str]:
    """What is open to the network when the service listens on `host`: one line per open group."""
    if is_loopback(host):
        return []
    return [f"the service listens on {host} (beyond loopback) and {_what(scope)} needs no token: anyone who reaches "
            f"it can use it; set auth.{scope}.tokens_env in the serving settings" for scope in SCOPES
            if not auth.enabled(scope)]  # fmt: skip


def log_exposure(host: str, auth: BearerAuth) -> list[str]:
    """Log `exposure_warnings` loudly (WARNING, framed); returns them."""
    lines = exposure_warnings(host, auth)
    if lines:
        bar = "!" * 100
        log.warning("\n%s\n%s\n%s", bar, "\n".join(f"!! NO AUTH: {line}" for line in lines), bar)
    return lines


class BearerAuthMiddleware:
    """ASGI middleware: the groups' tokens on their routes (`paths`: path or prefix -> group).

    `app.add_middleware(BearerAuthMiddleware, auth=BearerAuth(settings.auth))`. Other routes (the page,
    /model, /livez, /readyz, /metrics) stay open. Warns once per address the service is reached on that is not
    loopback while a group is open.
    """

    def __init__(self, app: ASGIApp, auth: BearerAuth, paths: dict[str, str] | None = None) -> None:
        self.app, self.auth, self.paths = app, auth, paths or DEFAULT_PATHS
        self._hosts_seen: set[str] = set()

    def scope_of(self, path: str) -> str | None:
        for prefix, group in self.paths.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return group
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = str((scope.get("server") or ("", 0))[0])
        if host and host not in self._hosts_seen:  # the address this request reached the service on, once each
            self._hosts_seen.add(host)
            log_exposure(host, self.auth)
        group = self.scope_of(scope.get("path", ""))
        if group is not None:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            problem = self.auth.check(headers.get("authorization"), group)
            if problem is not None:
                return await _answer(*problem)(scope, receive, send)
        return await self.app(scope, receive, send)


def describe(auth: BearerAuth) -> str:
    """One line for the start-up log: which groups need a token (never the tokens)."""
    return json.dumps({scope: ("token required" if auth.enabled(scope) else "open") for scope in SCOPES})

"""Content Credentials (C2PA) of an upload, read and verified offline with the official `c2pa-python` SDK.

What is reported (`Provenance`):

- `state`: `none` (no manifest in the file), `valid` (a manifest whose signature and hashes verify; its
  signer is on no configured trust list, and none is configured by default), `trusted` (valid, and the signer's
  certificate chains to a configured `TrustList`), `invalid` (a manifest that fails verification; the failed
  checks are named, e.g. `assertion.bmffHash.mismatch`: the video no longer matches what was signed),
  `unreadable` (a manifest box is there but cannot be read: garbage, a hostile structure, or the reader ran out
  of time), `remote` (the file only points to a manifest on the web; it is not fetched), `not_checked` (a
  container the SDK reads no credentials from, e.g. WebM).
- who signed (certificate common name and organisation), the claim generator, the signing time (from a
  time-stamp authority, when the signer used one), the actions with their IPTC `digitalSourceType`
  (`trainedAlgorithmicMedia`: declared AI-generated; `compositeWithTrainedAlgorithmicMedia`: AI-edited;
  `digitalCapture`: camera capture) and the ingredients. `declared` sums the declarations up over the active
  manifest and the manifests of its ingredients.

No network, ever: remote manifests are not fetched, certificate revocation (OCSP) is not fetched, and the
SDK's list of hosts it may contact is empty (`core.allowed_network_hosts: []`); either setting alone stops a
fetch, and the tests check both against a loopback server. Every string taken from the manifest is cleaned
(`evidence.text`): the manifest is written by whoever made the file.

Bounded time: the SDK is native code, so a Python timeout cannot interrupt it. The read runs in a worker thread
and reads the file through a stream whose every read checks the deadline (`timeout_s`; by default 2 s plus
20 ms per MB, since verifying a signed file hashes all its media data): the SDK reads as it parses and hashes,
so a read past the deadline fails and the SDK returns. If it is stuck where it reads nothing, the caller still
gets `unreadable` ("did not finish in N s") at the deadline and the thread is abandoned (its next read fails
at once). Either way `timed_out` is set: a read out of time verified nothing and says nothing about tampering.
The hard bound is the process: in the service the read runs in a decode worker that is killed and replaced past
the request's deadline (`scoring.worker_pool`). Nothing here raises for a bad file: every failure is a stated
`unreadable` (or `none`/`not_checked`).
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detection.evidence.text import clean_text

IPTC = "digitalsourcetype/"  # http(s)://cv.iptc.org/newscodes/digitalsourcetype/<term>
AI_GENERATED = {"trainedAlgorithmicMedia"}
AI_EDITED = {"compositeWithTrainedAlgorithmicMedia"}
CAMERA_CAPTURE = {"digitalCapture", "computationalCapture"}
UNTRUSTED = "signingCredential.untrusted"  # a trust verdict, not a broken file: reported as `trusted` False
BASE_TIMEOUT_S, TIMEOUT_S_PER_MB = 2.0, 0.02  # default deadline: 2 s + 20 ms per MB (~10x the hashing rate here)
MAX_ACTIONS = 50  # per answer: a manifest can list thousands; the rest are counted, not listed
MAX_INGREDIENTS = 20
MAX_DEPTH = 8  # ingredient manifests followed this deep

State = Literal["none", "valid", "trusted", "invalid", "unreadable", "remote", "not_checked"]
Declared = Literal["ai_generated", "ai_edited", "camera_capture", "other"]
NO_NETWORK = ("read offline: remote manifests and certificate revocation are never fetched; the C2PA SDK may "
              "contact no host")  # fmt: skip

DECLARED_WORDS = {
    "ai_generated": "; it declares the content AI-generated",
    "ai_edited": "; it declares the content edited with AI",
    "camera_capture": "; it declares a camera capture",
    "other": "; it declares another source type",
}
FAILURE_WORDS = {
    "assertion.bmffHash.mismatch": "the video data no longer matches the hash that was signed",
    "assertion.dataHash.mismatch": "the file's bytes no longer match the hash that was signed",
    "assertion.boxesHash.mismatch": "the file's boxes no longer match the hash that was signed",
    "assertion.hashedURI.mismatch": "an assertion was changed after signing",
    "assertion.missing": "an assertion the claim lists is missing",
    "claimSignature.mismatch": "the claim signature does not verify",
    "claimSignature.missing": "the claim has no signature",
    "claimSignature.outsideValidity": "the certificate was not valid when the claim was signed",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.invalid": "the signing certificate is not valid",
    "timeStamp.mismatch": "the time stamp does not match the signature",
    "manifest.inaccessible": "a manifest the file refers to cannot be reached",
}


class TrustList(BaseModel):
    """Certificates whose signers count as trusted (PEM roots or intermediates); none is configured by default.

    A signer chaining to one of them turns `valid` into `trusted`. What belongs here is a deployment's decision
    (the C2PA trust list, a newsroom's partners); nothing is trusted because it merely signed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("configured trust list", description="what the answer calls it")
    anchors_pem: str = Field(description="PEM certificates, concatenated")

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> TrustList:
        path = Path(path)
        return cls(name=name or path.name, anchors_pem=path.read_text())


class ValidationCheck(BaseModel):
    """One failed C2PA validation check: its code (the C2PA specification's) and what it means."""

    model_config = ConfigDict(extra="forbid")

    code: str
    explanation: str | None = None
    in_ingredient: bool = False  # the check failed in an ingredient's manifest, not the active one


class ProvenanceAction(BaseModel):
    """An action of the active manifest, e.g. `c2pa.created` with source type `trainedAlgorithmicMedia`."""

    model_config = ConfigDict(extra="forbid")

    action: str
    digital_source_type: str | None = None  # the IPTC term (the URI's last part)
    declares: Declared | None = None
    software_agent: str | None = None
    when: str | None = None


class ProvenanceIngredient(BaseModel):
    """A file the active manifest says this one was made from (`parentOf`, `componentOf`, `inputTo`)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    format: str | None = None
    relationship: str | None = None
    has_manifest: bool = False
    declares: Declared | None = None  # from the ingredient's own manifest, when it carries one


class Provenance(BaseModel):
    """The Content Credentials of one file (see the module docstring for each `state`)."""

    model_config = ConfigDict(extra="forbid")

    state: State
    present: bool = Field(description="the file carries a manifest or a reference to one")
    summary: str = Field(description="one sentence a person reads")
    failures: list[ValidationCheck] = Field(default_factory=list, description="failed checks, trust aside")
    trusted: bool = False
    trust_list: str | None = Field(None, description="the trust list used; None: none configured")
    signer: str | None = Field(None, description="the signing certificate's common name")
    issuer: str | None = Field(None, description="the organisation named in the signing certificate")
    claim_generator: str | None = None
    signed_at: str | None = Field(None, description="time-stamp authority's time (ISO 8601), when present")
    title: str | None = None
    actions: list[ProvenanceAction] = Field(default_factory=list)
    actions_left_out: int = 0
    ingredients: list[ProvenanceIngredient] = Field(default_factory=list)
    declared: Declared | None = Field(None, description="what the manifests declare about the source")
    manifests: int = Field(0, description="manifests in the file's store (its signed history)")
    remote_url: str | None = None
    timed_out: bool = Field(False, description="the read was cut at its deadline (unreadable, nothing verified)")
    network: str = NO_NETWORK
    sdk: str = ""
    read_ms: float = 0.0


def read_provenance(
    source: str | Path | BinaryIO, trust: TrustList | None = None, timeout_s: float | None = None
) -> Provenance:
    """The Content Credentials of `source` (a path, or a seekable binary stream positioned anywhere).

    Never raises for what the file contains and never touches the network; returns within about `timeout_s`
    seconds whatever the manifest holds (see the module docstring); None: 2 s plus 20 ms per MB of the file, as
    verifying a signed file hashes all its media data. A read cut by the deadline is `unreadable` with
    `timed_out` True: it says nothing about tampering. Typical cost: 1-10 ms for a small MP4, plus
    hashing the media data for a signed file (about 2 ms per MB here).
    """
    started = time.perf_counter()
    result = _read_bounded(source, trust, timeout_s)
    return result.model_copy(update={"read_ms": round((time.perf_counter() - started) * 1000, 2), "sdk": sdk_version()})


@lru_cache(maxsize=1)
def sdk_version() -> str:
    try:
        import c2pa
    except ImportError:  # stated in every answer rather than failing one: the dependency is missing
        return "c2pa-python is not installed"
    return f"c2pa-python {c2pa.__version__} (c2pa-rs {c2pa.sdk_version()})"


def offline_settings(trust: TrustList | None = None) -> dict:
    """The SDK settings every read uses: no remote manifest, no OCSP, no host allowed; trust only if given."""
    settings: dict = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True},
        "core": {"allowed_network_hosts": []},
    }
    if trust is not None:
        settings["trust"] = {"trust_anchors": trust.anchors_pem}
    return settings


@lru_cache(maxsize=8)
def _context(pid: int, anchors_pem: str | None):
    """A C2PA context per process (native handles do not survive a fork) and trust list."""
    import c2pa

    trust = TrustList(anchors_pem=anchors_pem) if anchors_pem else None
    return c2pa.Context.from_dict(offline_settings(trust))


class _DeadlineStream(io.RawIOBase):
    """A file the SDK reads through: every read past the deadline, or after `abandon()`, fails."""

    def __init__(self, raw: BinaryIO, deadline: float) -> None:
        super().__init__()
        self.raw, self.deadline, self.expired = raw, deadline, False

    def abandon(self) -> None:
        self.deadline = 0.0

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            self.expired = True
            raise TimeoutError("Content Credentials read past its deadline")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._check()
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check()
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def write(self, data) -> int:
        raise OSError("read-only")

    def flush(self) -> None:
        pass


def _read_bounded(source: str | Path | BinaryIO, trust: TrustList | None, timeout_s: float | None) -> Provenance:
    trust_name = trust.name if trust is not None else None
    try:
        raw = _open(source)
    except OSError as exc:
        return _unreadable(f"the file could not be opened for reading ({type(exc).__name__})", trust_name)
    if isinstance(raw, str):  # a reason the file is not one to read
        return _unreadable(raw, trust_name)
    if timeout_s is None:
        timeout_s = BASE_TIMEOUT_S + TIMEOUT_S_PER_MB * _size(raw) / 1e6
    stream = _DeadlineStream(raw, time.monotonic() + timeout_s)
    outcome: dict = {}
    own = raw if raw is not source else None  # a file opened here is closed by the reader thread when it ends
    worker = threading.Thread(target=_read_native, args=(stream, trust, outcome, own), name="c2pa-read", daemon=True)
    worker.start()
    worker.join(timeout_s + 0.05)
    if worker.is_alive():  # stuck in native code that reads nothing: answer now, its next read fails
        stream.abandon()
        return _timed_out(f"the Content Credentials reader did not finish in {timeout_s:.3g} s; it was abandoned",
                          trust_name)  # fmt: skip
    if stream.expired:
        return _timed_out(f"reading the Content Credentials took longer than {timeout_s:.3g} s", trust_name)
    if "error" in outcome:
        return _from_error(outcome["error"], trust_name)
    try:
        return interpret(json.loads(outcome["json"]), trust_name)
    except Exception as exc:  # a structure the SDK accepted but this reading cannot follow: stated, not raised
        return _unreadable(f"the manifest's structure could not be interpreted ({type(exc).__name__})", trust_name,
                           present=True)  # fmt: skip


def _open(source: str | Path | BinaryIO) -> BinaryIO | str:
    if not isinstance(source, str | os.PathLike):
        return source
    path = Path(source)
    if not path.exists():
        return "no such file"
    if not path.is_file():  # a FIFO or a device would block or never end
        return "not a regular file"
    return path.open("rb")


def _read_native(stream: _DeadlineStream, trust: TrustList | None, outcome: dict, own: BinaryIO | None) -> None:
    """In the worker thread: the SDK's read of `stream` into `outcome` ("json", or "error"); closes `own`."""
    try:
        import c2pa

        context = _context(os.getpid(), trust.anchors_pem if trust else None)
        with c2pa.Reader(None, stream, context=context) as reader:  # the SDK detects the type from the bytes
            outcome["json"] = reader.json()
    except BaseException as exc:  # everything the native side or its wrapper raises is stated, not raised
        outcome["error"] = exc
    finally:
        if own is not None:
            own.close()


def _from_error(exc: BaseException, trust_name: str | None) -> Provenance:
    import c2pa

    message = str(exc)
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return Provenance(state="none", present=False, trust_list=trust_name,
                          summary="no Content Credentials in the file")  # fmt: skip
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return Provenance(state="not_checked", present=False, trust_list=trust_name,
                          summary="not checked: the C2PA SDK reads no Content Credentials from this container "
                                  "format")  # fmt: skip
    if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote"):
        found = re.search(r"(https?://\S+)", message)
        url = clean_text(found.group(1)) if found else None
        where = f" at {url}" if url else ""
        return Provenance(state="remote", present=True, remote_url=url, trust_list=trust_name,
                          summary=f"the file points to a manifest on the web{where}; it was not fetched (no network "
                                  "access here), so nothing was verified")  # fmt: skip
    if isinstance(exc, c2pa.C2paError.Io):  # the bytes ran out: a truncated file, manifest or not
        return _unreadable("the file ended before its Content Credentials could be looked for (truncated?)",
                           trust_name)  # fmt: skip
    if isinstance(exc, c2pa.C2paError):
        kind = clean_text(message.split(":", 1)[0], 40) or "error"
        detail = clean_text(message.split(":", 1)[-1], 120) if ":" in message else None
        said = f" (C2PA SDK: {kind}{': ' + detail if detail else ''})"
        return _unreadable(f"a Content Credentials box is present but its manifest cannot be read{said}",
                           trust_name, present=True)  # fmt: skip
    return _unreadable(f"the Content Credentials could not be read ({type(exc).__name__})", trust_name, present=True)


def _size(raw: BinaryIO) -> int:
    try:
        here = raw.tell()
        end = raw.seek(0, io.SEEK_END)
        raw.seek(here)
        return int(end)
    except (OSError, ValueError):
        return 0


def _timed_out(reason: str, trust_name: str | None) -> Provenance:
    return _unreadable(reason, trust_name).model_copy(update={"timed_out": True})


def _unreadable(reason: str, trust_name: str | None, present: bool = False) -> Provenance:
    return Provenance(state="unreadable", present=present, summary=f"unreadable manifest: {reason}",
                      trust_list=trust_name)  # fmt: skip


def interpret(store: dict, trust_list: str | None = None) -> Provenance:
    """`Provenance` from the SDK's manifest store JSON (`Reader.json()`); every value is checked for its type."""
    manifests = _dict(store.get("manifests"))
    active = _dict(manifests.get(_str(store.get("active_manifest")) or ""))
    state_word = (_str(store.get("validation_state")) or "").lower()
    checks = _failures(store)
    failures = [c for c in checks if c.code != UNTRUSTED]
    if state_word == "trusted":
        state: State = "trusted"
    elif state_word == "valid":
        state = "valid"
    elif state_word == "invalid" or failures:
        state = "invalid"
    else:
        return _unreadable("the SDK gave no validation result", trust_list, present=True)
    signature = _dict(active.get("signature_info"))
    all_actions = list(_actions(active))
    ingredients = [_ingredient(i, manifests) for i in _list(active.get("ingredients"))[:MAX_INGREDIENTS]]
    declared = _strongest([a.declares for a in all_actions] + [i.declares for i in ingredients])
    provenance = Provenance(
        state=state,
        present=True,
        summary="",
        failures=failures,
        trusted=state == "trusted",
        trust_list=trust_list,
        signer=clean_text(signature.get("common_name")),
        issuer=clean_text(signature.get("issuer")),
        claim_generator=_claim_generator(active),
        signed_at=clean_text(signature.get("time"), 40),
        title=clean_text(active.get("title")),
        actions=all_actions[:MAX_ACTIONS],
        actions_left_out=max(len(all_actions) - MAX_ACTIONS, 0),
        ingredients=ingredients,
        declared=declared,
        manifests=len(manifests),
    )
    return provenance.model_copy(update={"summary": _summary(provenance)})


def _summary(p: Provenance) -> str:
    who = p.signer or p.issuer or "an unnamed signer"
    if p.issuer and p.signer and p.issuer != p.signer:
        who = f"{p.signer} ({p.issuer})"
    declared = DECLARED_WORDS.get(p.declared or "", "; it declares no source type")
    if p.state == "invalid":
        failed = ", ".join(c.code for c in p.failures) or "the validation state"
        return f"Content Credentials signed by {who} fail verification ({failed}){declared} (not to be believed)"
    if p.state == "trusted":
        return f"valid Content Credentials signed by {who}, on the trust list {p.trust_list}{declared}"
    trust = "no trust list is configured" if p.trust_list is None else f"the signer is not on {p.trust_list}"
    return f"valid Content Credentials signed by {who} ({trust}){declared}"


def _failures(store: dict) -> list[ValidationCheck]:
    results = _dict(store.get("validation_results"))
    found: list[ValidationCheck] = []
    if results:
        found += [_check(c, False) for c in _list(_dict(results.get("activeManifest")).get("failure"))]
        for delta in _list(results.get("ingredientDeltas")):
            found += [_check(c, True) for c in _list(_dict(_dict(delta).get("validationDeltas")).get("failure"))]
    else:  # older stores: the flat status list
        found += [_check(c, False) for c in _list(store.get("validation_status"))]
    unique: dict[tuple[str, bool], ValidationCheck] = {}
    for check in found:
        unique.setdefault((check.code, check.in_ingredient), check)
    return list(unique.values())[:20]


def _check(raw: object, in_ingredient: bool) -> ValidationCheck:
    raw = _dict(raw)
    code = clean_text(raw.get("code"), 80) or "unknown"
    words = FAILURE_WORDS.get(code) or clean_text(raw.get("explanation"), 160)
    return ValidationCheck(code=code, explanation=words, in_ingredient=in_ingredient)


def _actions(manifest: dict) -> Iterator[ProvenanceAction]:
    for assertion in _list(manifest.get("assertions")):
        assertion = _dict(assertion)
        if not (_str(assertion.get("label")) or "").startswith("c2pa.actions"):
            continue
        for action in _list(_dict(assertion.get("data")).get("actions")):
            action = _dict(action)
            term = source_term(action.get("digitalSourceType"))
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if isinstance(agent.get(k), str | int))
            yield ProvenanceAction(
                action=clean_text(action.get("action"), 80) or "unknown",
                digital_source_type=term,
                declares=declares(term),
                software_agent=clean_text(agent),
                when=clean_text(action.get("when"), 40),
            )


def _ingredient(raw: object, manifests: dict, depth: int = 0, seen: frozenset = frozenset()) -> ProvenanceIngredient:
    raw = _dict(raw)
    label = _str(raw.get("active_manifest"))
    own = _dict(manifests.get(label)) if label else {}
    declared = None
    if own and label not in seen and depth < MAX_DEPTH:
        inner = [a.declares for a in _actions(own)]
        inner += [_ingredient(i, manifests, depth + 1, seen | {label}).declares
                  for i in _list(own.get("ingredients"))[:MAX_INGREDIENTS]]  # fmt: skip
        declared = _strongest(inner)
    return ProvenanceIngredient(
        title=clean_text(raw.get("title")),
        format=clean_text(raw.get("format"), 60),
        relationship=clean_text(raw.get("relationship"), 40),
        has_manifest=bool(own),
        declares=declared,
    )


def _claim_generator(manifest: dict) -> str | None:
    if isinstance(manifest.get("claim_generator"), str):
        return clean_text(manifest["claim_generator"])
    parts = []
    for info in _list(manifest.get("claim_generator_info")):
        info = _dict(info)
        name = _str(info.get("name"))
        if name:
            version = info.get("version")
            parts.append(f"{name} {version}" if isinstance(version, str | int | float) else name)
    return clean_text(", ".join(parts)) if parts else None


def source_term(uri: object) -> str | None:
    """The IPTC digital source type term of a URI (`.../digitalsourcetype/trainedAlgorithmicMedia` ->
    `trainedAlgorithmicMedia`); None when absent."""
    if not isinstance(uri, str) or not uri.strip():
        return None
    return clean_text(uri.rstrip("/").rsplit(IPTC, 1)[-1].rsplit("/", 1)[-1], 80)


def declares(term: str | None) -> Declared | None:
    if term is None:
        return None
    if term in AI_GENERATED:
        return "ai_generated"
    if term in AI_EDITED:
        return "ai_edited"
    if term in CAMERA_CAPTURE:
        return "camera_capture"
    return "other"


def _strongest(declared: list[Declared | None]) -> Declared | None:
    """AI generation outranks AI editing, which outranks a capture, which outranks another declared type."""
    for kind in ("ai_generated", "ai_edited", "camera_capture", "other"):
        if kind in declared:
            return kind  # type: ignore[return-value]
    return None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None

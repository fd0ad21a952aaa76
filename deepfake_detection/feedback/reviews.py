"""The review store: a person's judgement of a served request, kept durably in a real database (SQLAlchemy 2.0).

A review says what a person concluded about the video behind one `/detect` answer, in a closed vocabulary
(`LABELS`): `confirmed_fake` (the video is manipulated), `actually_real` (it is authentic) or `unsure`. It is
tied to the request-log row of that answer: the store copies the row's model version, verdict, p_fake, time and
drift features into the review, so a review stays meaningful where the request log is not (another machine, a
purged log). Several reviews of one request are kept (several reviewers, or one correcting themselves);
`reviewed_dataset` states how they become one label.

Durability: `add` returns only after the transaction committed, so an acknowledged review survives a killed
process. SQLite (the default, `.cache/serving/reviews.sqlite`) runs in WAL mode with `synchronous=FULL` (each
commit reaches the disk) and a 30 s busy timeout, and every write is a single INSERT transaction, so concurrent
writers queue on SQLite's lock instead of failing. Any other SQLAlchemy URL works the same way (PostgreSQL
through psycopg 3: `postgresql+psycopg://user@host/db`). A client may send its own `review_id`: a retried post
then returns the stored review instead of adding a second one.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import JSON, CheckConstraint, Float, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS
from deepfake_detection.monitoring.request_log import DB_NAME as REQUEST_LOG_DB

LABELS: dict[str, str] = {
    "confirmed_fake": "a person judged the video manipulated (a deepfake), whatever the model answered",
    "actually_real": "a person judged the video authentic, whatever the model answered",
    "unsure": "a person looked and could not tell; it abstains when labels are decided",
}
IS_FAKE: dict[str, int | None] = {"confirmed_fake": 1, "actually_real": 0, "unsure": None}
SOURCES = ("api", "page", "cli", "simulated")  # simulated: the demo's reviews, made from its own labels
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_REVIEWER_CHARS = 200
COLUMNS = ["id", "review_id", "request_id", "label", "reviewer", "note", "source", "created_at", "request_time",
           "model_name", "model_version", "verdict", "p_fake", "features"]  # fmt: skip


class InvalidReview(ValueError):
    """The review is malformed (label, reviewer, note, ids); the message says which field and why."""


class UnknownRequest(LookupError):
    """No request-log row has this request id: only answered requests can be reviewed."""


class ReviewConflict(ValueError):
    """A `review_id` already stored with other content: a retry must repeat the original review."""


class _Base(DeclarativeBase):
    pass


class _Review(_Base):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint(f"label IN ({', '.join(repr(k) for k in LABELS)})", name="known_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    request_id: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    label: Mapped[str] = mapped_column(String(20), nullable=False)
    reviewer: Mapped[str] = mapped_column(String(MAX_REVIEWER_CHARS), nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, index=True, nullable=False)  # unix seconds
    # the request-log row the review judges, copied when the review is stored
    request_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    p_fake: Mapped[float | None] = mapped_column(Float, nullable=True)
    features: Mapped[dict | None] = mapped_column(JSON, nullable=True)


@dataclass(frozen=True)
class Review:
    """One stored review (what `POST /feedback` answers)."""

    id: int
    review_id: str
    request_id: str
    label: str
    reviewer: str
    note: str | None
    source: str
    created_at: float
    request_time: float | None
    model_name: str | None
    model_version: str | None
    verdict: str | None
    p_fake: float | None
    features: dict | None

    def as_dict(self, features: bool = False) -> dict:
        out = asdict(self)
        if not features:
            out.pop("features")
        return out


def normalise_label(label: object) -> str:
    """A label in the vocabulary: "confirmed fake", "Confirmed-Fake" -> "confirmed_fake"; raises InvalidReview."""
    if not isinstance(label, str):
        raise InvalidReview(f"label must be one of {', '.join(LABELS)}")
    key = re.sub(r"[\s-]+", "_", label.strip().lower())
    if key not in LABELS:
        raise InvalidReview(f"label {label[:40]!r} is not one of {', '.join(LABELS)}")
    return key


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns, WAL or not
    cursor.execute("PRAGMA busy_timeout=30000")  # writers queue for the lock instead of failing
    cursor.close()


class ReviewStore:
    """Reviews in the database at `url` (any SQLAlchemy URL); the table is created on first use.

    Thread-safe and safe across processes: one engine per store, a session per call.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict = {"pool_pre_ping": True}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=10, max_overflow=40, pool_timeout=60)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReviewStore({make_url(self.url).render_as_string(hide_password=True)})"

    def _ensure_table(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                _Base.metadata.create_all(self.engine)
            except (OperationalError, ProgrammingError, IntegrityError):  # another process created it meanwhile
                _Base.metadata.create_all(self.engine)
            self._ready = True

    def add(
        self,
        request_id: str,
        label: str,
        reviewer: str,
        note: str | None = None,
        request_row: dict | None = None,
        source: str = "api",
        review_id: str | None = None,
        max_note_chars: int = 2000,
        now: float | None = None,
    ) -> tuple[Review, bool]:
        """Store one review and commit it: (the review, True), or (the stored one, False) for a repeated
        `review_id`. `request_row` is the request-log row it judges (`lookup_request`).

        Raises InvalidReview for a malformed field, ReviewConflict for a reused `review_id` with other content,
        and SQLAlchemy's errors when the database cannot be reached (nothing was stored then).
        """
        values = validate_review(request_id, label, reviewer, note, source, review_id, max_note_chars)
        row = request_row or {}
        features = {c: _json_value(row.get(c)) for c in FEATURE_COLUMNS if c in row}
        record = _Review(
            **values,
            created_at=time.time() if now is None else now,
            request_time=_float(row.get("time")),
            model_name=row.get("model_name"),
            model_version=None if row.get("model_version") is None else str(row.get("model_version")),
            verdict=row.get("verdict"),
            p_fake=_float(row.get("p_fake")),
            features=features or None,
        )
        self._ensure_table()
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.add(record)  # one INSERT per transaction: nothing read first, so no lock upgrade to fail
            return _public(record), True
        except IntegrityError:
            existing = self.get(values["review_id"])
            if existing is None:
                raise
            same = (existing.request_id, existing.label, existing.reviewer, existing.note)
            if same != (values["request_id"], values["label"], values["reviewer"], values["note"]):
                raise ReviewConflict(f"review_id {values['review_id']} is already stored with other content") from None
            return existing, False

    def get(self, review_id: str) -> Review | None:
        self._ensure_table()
        with Session(self.engine) as session:
            found = session.scalar(select(_Review).where(_Review.review_id == review_id))
            return _public(found) if found is not None else None

    def for_request(self, request_id: str) -> list[Review]:
        """The reviews of one request, oldest first."""
        self._ensure_table()
        with Session(self.engine) as session:
            rows = session.scalars(select(_Review).where(_Review.request_id == request_id).order_by(_Review.id))
            return [_public(r) for r in rows]

    def count(self) -> int:
        self._ensure_table()
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(_Review)) or 0)

    def table(self, since: float | None = None, until: float | None = None) -> pd.DataFrame:
        """Every review (or those with `since <= created_at < until`), oldest first, in `COLUMNS`."""
        self._ensure_table()
        query = select(_Review).order_by(_Review.id)
        if since is not None:
            query = query.where(_Review.created_at >= since)
        if until is not None:
            query = query.where(_Review.created_at < until)
        with Session(self.engine) as session:
            rows = [asdict(_public(r)) for r in session.scalars(query)]
        return pd.DataFrame(rows, columns=COLUMNS)

    def close(self) -> None:
        self.engine.dispose()


def validate_review(
    request_id: object,
    label: object,
    reviewer: object,
    note: object,
    source: str = "api",
    review_id: object = None,
    max_note_chars: int = 2000,
) -> dict:
    """The review's fields checked and normalised (label vocabulary, trimmed text); raises InvalidReview."""
    if not isinstance(request_id, str) or not _ID.match(request_id):
        raise InvalidReview("request_id must be the request_id of a /detect answer (1-64 letters, digits, _ or -)")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise InvalidReview("reviewer is required: who made this judgement (a name or handle)")
    reviewer = reviewer.strip()
    if len(reviewer) > MAX_REVIEWER_CHARS or not reviewer.isprintable():
        raise InvalidReview(f"reviewer must be printable text of at most {MAX_REVIEWER_CHARS} characters")
    if note is not None and not isinstance(note, str):
        raise InvalidReview("note must be text")
    note = (note or "").strip() or None
    if note is not None and len(note) > max_note_chars:
        raise InvalidReview(f"note is {len(note)} characters; at most {max_note_chars} are kept")
    if source not in SOURCES:
        raise InvalidReview(f"source must be one of {', '.join(SOURCES)}")
    if review_id is None:
        review_id = uuid.uuid4().hex
    elif not isinstance(review_id, str) or not _ID.match(review_id):
        raise InvalidReview("review_id, when given, must be 1-64 letters, digits, _ or - (a UUID works)")
    return {"review_id": review_id, "request_id": request_id, "label": normalise_label(label), "reviewer": reviewer,
            "note": note, "source": source}  # fmt: skip


def submit_review(
    store: ReviewStore,
    request_log_dirs: list[str | Path],
    request_id: object,
    label: object,
    reviewer: object,
    note: object = None,
    source: str = "api",
    review_id: object = None,
    max_note_chars: int = 2000,
) -> tuple[Review, bool]:
    """Check a review, find the request-log row it judges (in the first log that has it), store and commit it.

    The one path for `POST /feedback`, the CLI and the demo. Raises InvalidReview (before any lookup),
    UnknownRequest when no log has the request id, ReviewConflict, or the database's error.
    """
    values = validate_review(request_id, label, reviewer, note, source, review_id, max_note_chars)
    row = next((r for d in request_log_dirs if (r := lookup_request(d, values["request_id"])) is not None), None)
    if row is None:
        raise UnknownRequest(f"no answered request has the id {values['request_id']}")
    return store.add(**values, request_row=row, max_note_chars=max_note_chars)


def lookup_request(request_log_dir: str | Path, request_id: str) -> dict | None:
    """The request-log row (`monitoring.request_log`) of `request_id`, the latest if logged twice, or None.

    Read-only and indexed: an index on `request_id` is added to the log on first use (an additive change,
    so a lookup stays fast as the log grows).
    """
    path = Path(request_log_dir) / REQUEST_LOG_DB
    if not path.is_file():
        return None
    db = sqlite3.connect(path, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        _index_request_ids(db, str(path))
        sql = "SELECT * FROM requests WHERE request_id = ? ORDER BY id DESC LIMIT 1"
        row = db.execute(sql, (request_id,)).fetchone()
        return dict(row) if row is not None else None
    finally:
        db.close()


_INDEXED: set[str] = set()


def _index_request_ids(db: sqlite3.Connection, key: str) -> None:
    if key in _INDEXED:
        return
    try:
        with db:
            db.execute("CREATE INDEX IF NOT EXISTS requests_request_id ON requests (request_id)")
    except sqlite3.OperationalError:  # no table yet, or the log is busy: look up without the index this time
        return
    _INDEXED.add(key)


def _public(r: _Review) -> Review:
    return Review(**{c: getattr(r, c) for c in COLUMNS})


def _float(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _json_value(value):
    """A drift feature as JSON can hold it: text as is, numbers as finite floats (NaN -> None)."""
    if value is None or isinstance(value, str):
        return value
    return _float(value)

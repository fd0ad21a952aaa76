"""The durable log of served requests: one SQLite row per accepted upload, written before the answer.

It is what drift monitoring reads as the "current" window, so it holds the same drift columns as the
reference (`drift_features.FEATURE_COLUMNS`) next to the verdict, and the upload's evidence columns
(`evidence.columns.LOG_COLUMNS`: credentials present, their state, what they declare, the assessment), which
the monitoring report counts over time; a log made before a column existed gets it added (NULL in old rows).
SQLite in WAL mode: many readers, one writer at a time, durable across restarts; each append is its own
committed transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from deepfake_detection.evidence.columns import LOG_COLUMNS as EVIDENCE_COLUMNS
from deepfake_detection.monitoring.drift_features import FEATURE_COLUMNS, NUMERIC_COLUMNS

DB_NAME = "requests.sqlite"
LOG_COLUMNS = ["request_id", "time", "model_name", "model_version", "verdict", "p_fake", "reasons",
               *FEATURE_COLUMNS, *EVIDENCE_COLUMNS]  # fmt: skip


def _sql_type(column: str) -> str:
    if column in EVIDENCE_COLUMNS:
        return EVIDENCE_COLUMNS[column]
    return "REAL" if column in NUMERIC_COLUMNS or column in ("time", "p_fake") else "TEXT"


class RequestLog:
    """Append and read served requests under `folder` (created if needed)."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            cols = ", ".join(f"{c} {_sql_type(c)}" for c in LOG_COLUMNS)
            db.execute(f"CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
            present = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
            for column in (c for c in LOG_COLUMNS if c not in present):  # a log written by an older version
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it just now
                    db.execute(f"ALTER TABLE requests ADD COLUMN {column} {_sql_type(column)}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection per call (threads and processes may share the log): committed, then closed."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def append(self, row: dict) -> None:
        """Write one row and commit; unknown keys are an error, missing ones are NULL."""
        unknown = set(row) - set(LOG_COLUMNS)
        if unknown:
            raise ValueError(f"not request log columns: {sorted(unknown)}")
        row = {"time": time.time(), **row}
        if isinstance(row.get("reasons"), list):
            row["reasons"] = json.dumps(row["reasons"])
        names = list(row)
        with self._connect() as db:
            db.execute(
                f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [row[n] for n in names],
            )

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def read(self, last: int | None = None, since: float | None = None, until: float | None = None) -> pd.DataFrame:
        """Rows in time order: the `last` N, and/or those with `since <= time < until` (unix seconds)."""
        where, args = [], []
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        if until is not None:
            where.append("time < ?")
            args.append(until)
        sql = "SELECT * FROM requests" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC"
        if last is not None:
            sql += f" LIMIT {int(last)}"
        with self._connect() as db:
            table = pd.read_sql_query(sql, db, params=args)
        return table.iloc[::-1].reset_index(drop=True)

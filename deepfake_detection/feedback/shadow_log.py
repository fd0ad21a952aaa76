"""The challenger's scores beside production's: a `shadow_scores` table in the request log's SQLite file.

A challenger in shadow (`serving/shadow.py`) scores a request's clips after its answer has left, so its row
arrives after the request-log row was committed; it is a table of its own in the same database
(`requests.sqlite`), keyed by `request_id`, rather than a late UPDATE of the answer's row. `read_with_shadow`
joins the two: one row per request with production's `p_fake` and the challenger's `shadow_p_fake` side by side.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd

from deepfake_detection.monitoring.request_log import DB_NAME, RequestLog

SHADOW_COLUMNS = ["request_id", "time", "model_version", "p_fake", "verdict", "threshold", "clips",
                  "production_version", "production_p_fake", "seconds"]  # fmt: skip


class ShadowLog:
    """Append and read challenger scores in `folder`'s request-log database (created if needed)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        self.folder.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            with db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS shadow_scores (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                           "request_id TEXT NOT NULL, time REAL, model_version TEXT, p_fake REAL, verdict TEXT, "
                           "threshold REAL, clips INTEGER, production_version TEXT, production_p_fake REAL, "
                           "seconds REAL)")  # fmt: skip
                db.execute("CREATE INDEX IF NOT EXISTS shadow_scores_request_id ON shadow_scores (request_id)")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def append(self, row: dict) -> None:
        """One challenger score, committed; unknown keys are an error."""
        unknown = set(row) - set(SHADOW_COLUMNS)
        if unknown:
            raise ValueError(f"not shadow log columns: {sorted(unknown)}")
        row = {"time": time.time(), **row}
        names = list(row)
        db = self._connect()
        try:
            with db:
                db.execute(f"INSERT INTO shadow_scores ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                           [row[n] for n in names])  # fmt: skip
        finally:
            db.close()

    def read(self) -> pd.DataFrame:
        db = self._connect()
        try:
            return pd.read_sql_query(f"SELECT {', '.join(SHADOW_COLUMNS)} FROM shadow_scores ORDER BY id", db)
        finally:
            db.close()


def read_with_shadow(folder: str | Path) -> pd.DataFrame:
    """The request log with the challenger's latest score of each request beside it (`shadow_*` columns; NaN
    where the challenger did not score it: shadow off, dropped when its queue was full, or no face)."""
    requests = RequestLog(folder).read()
    shadow = ShadowLog(folder).read().drop_duplicates("request_id", keep="last")
    shadow = shadow[["request_id", "model_version", "p_fake", "verdict", "seconds"]].rename(
        columns=lambda c: c if c == "request_id" else f"shadow_{c}"
    )
    return requests.merge(shadow, on="request_id", how="left")

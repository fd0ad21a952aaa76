"""Progress lines for long loops, written to a logger so they show up in ZenML step logs."""

from __future__ import annotations

import logging
import time


class Progress:
    """Logs `label: done/total (pct) elapsed, eta` at most every `every_s` seconds, and at the end."""

    def __init__(self, label: str, total: int, logger: logging.Logger, every_s: float = 5.0) -> None:
        self.label, self.total, self.log, self.every_s = label, total, logger, every_s
        self.start = self._last = time.monotonic()

    def __call__(self, done: int, total: int | None = None, item: str = "", *extra: object) -> None:
        total = total or self.total
        now = time.monotonic()
        if done < total and now - self._last < self.every_s:
            return
        self._last = now
        elapsed = now - self.start
        eta = elapsed / done * (total - done) if done else float("nan")
        self.log.info(
            "%s: %d/%d (%.0f%%) %.0fs elapsed, eta %.0fs %s",
            self.label, done, total, 100 * done / max(total, 1), elapsed, eta, item,
        )  # fmt: skip

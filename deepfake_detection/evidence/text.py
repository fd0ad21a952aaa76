"""Text read out of an uploaded file, made safe to show: every string here was written by whoever made the file.

Tags, manifest titles, signer names and URLs are attacker-controlled. They are kept as plain text (control
characters removed, length capped) so no answer, page or log line can be stretched or broken by them; the page
and the report still escape them when they render.
"""

from __future__ import annotations

import unicodedata

MAX_CHARS = 200


def clean_text(value: object, limit: int = MAX_CHARS) -> str | None:
    """`value` as one line of printable text of at most `limit` characters ("..." marks a cut); None when empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(value))
    text = " ".join(text.split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""How many uploads carry Content Credentials, and how many declare AI generation, period by period.

Read from the request log's evidence columns (`evidence.columns.LOG_COLUMNS`): `has_credentials` (1/0),
`credentials_state` (none, valid, trusted, invalid, unreadable, remote, not_checked), `declared_ai` (1: valid
credentials declare AI generation or AI editing). Rows logged before the service recorded evidence have them
NULL: they are counted as uploads but not as `recorded`, and every share is of the recorded ones, so a log
that started recording part-way does not read as a fall in credentials.
"""

from __future__ import annotations

import html

import pandas as pd

SHARE_COLUMNS = ["period", "uploads", "recorded", "with_credentials", "declared_ai", "credentials_failing",
                 "share_with_credentials", "share_declared_ai", "share_credentials_failing"]  # fmt: skip
NEEDED = ("time", "has_credentials", "credentials_state", "declared_ai")


def evidence_shares(log: pd.DataFrame, period: str = "1D") -> pd.DataFrame:
    """One row per `period` (a pandas frequency: "1D", "1h", "7D") with uploads, how many had evidence recorded,
    how many carried credentials, declared AI, or carried credentials failing verification (`invalid` or
    `unreadable`), and those counts as shares of the recorded uploads (NaN when none was recorded).

    Raises `ValueError` when the log has no `time` column; a log without evidence columns gives rows with
    `recorded` 0.
    """
    if "time" not in log.columns:
        raise ValueError("the request log has no 'time' column")
    if log.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    table = pd.DataFrame({"period": pd.to_datetime(log["time"], unit="s", utc=True).dt.floor(period)})
    has = pd.to_numeric(log.get("has_credentials"), errors="coerce") if "has_credentials" in log else None
    table["recorded"] = has.notna() if has is not None else False
    table["with_credentials"] = (has == 1) if has is not None else False
    table["declared_ai"] = pd.to_numeric(log["declared_ai"], errors="coerce") == 1 if "declared_ai" in log else False
    states = log["credentials_state"] if "credentials_state" in log else pd.Series(None, index=log.index)
    table["credentials_failing"] = states.isin(["invalid", "unreadable"])
    grouped = table.groupby("period")
    out = pd.DataFrame({
        "uploads": grouped.size(),
        "recorded": grouped["recorded"].sum(),
        "with_credentials": grouped["with_credentials"].sum(),
        "declared_ai": grouped["declared_ai"].sum(),
        "credentials_failing": grouped["credentials_failing"].sum(),
    }).reset_index()  # fmt: skip
    recorded = out["recorded"].where(out["recorded"] > 0)
    for name in ("with_credentials", "declared_ai", "credentials_failing"):
        out[f"share_{name}"] = out[name] / recorded
    out["period"] = out["period"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return out[SHARE_COLUMNS]


def shares_headline(shares: pd.DataFrame) -> str:
    """The whole window in one sentence."""
    recorded = int(shares["recorded"].sum()) if len(shares) else 0
    uploads = int(shares["uploads"].sum()) if len(shares) else 0
    if recorded == 0:
        return f"{uploads} uploads, none with evidence recorded (logged before the service recorded evidence?)"
    with_credentials, declared = int(shares["with_credentials"].sum()), int(shares["declared_ai"].sum())
    failing = int(shares["credentials_failing"].sum())
    return (f"{with_credentials} of {recorded} uploads ({with_credentials / recorded:.1%}) carried Content "
            f"Credentials, {declared} ({declared / recorded:.1%}) declared AI generation or editing, {failing} "
            f"carried credentials failing verification")  # fmt: skip


def shares_html(shares: pd.DataFrame, title: str = "Content Credentials in served uploads") -> str:
    """A self-contained HTML page: the headline and one row per period, each share drawn as a bar."""

    def bar(share: float, colour: str) -> str:
        if pd.isna(share):
            return "<td>n/a</td>"
        width = max(round(float(share) * 120), 1)
        return (f'<td><span style="display:inline-block;width:{width}px;height:.8em;background:{colour}"></span> '
                f"{share:.1%}</td>")  # fmt: skip

    rows = "".join(
        f"<tr><td>{html.escape(str(r.period))}</td><td>{r.uploads}</td><td>{r.recorded}</td>"
        f"{bar(r.share_with_credentials, '#1a56db')}{bar(r.share_declared_ai, '#b00020')}"
        f"{bar(r.share_credentials_failing, '#8a6d00')}</tr>"
        for r in shares.itertuples()
    )
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:2rem}td,th{padding:.2rem .6rem;text-align:left}"
            "th{border-bottom:1px solid #999}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(shares_headline(shares))}</p><table><thead><tr>"
            "<th>period</th><th>uploads</th><th>evidence recorded</th><th>with credentials</th>"
            "<th>declared AI</th><th>credentials failing</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p>Shares are of the uploads with evidence recorded. A missing manifest "
            "is evidence of nothing: platforms strip credentials on upload.</p></body></html>")  # fmt: skip

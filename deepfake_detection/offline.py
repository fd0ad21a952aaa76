"""The one definition of the offline environment every process of this project runs with.

The machines this project targets have no internet: analytics pings and hub downloads must be
switched off before ZenML, BentoML, Great Expectations or transformers are imported. The Makefile
exports the same names; importing the package sets them for any other entry point (pytest, notebooks).
"""

from __future__ import annotations

import os

OFFLINE_ENV: dict[str, str] = {
    "ZENML_ANALYTICS_OPT_IN": "false",
    "BENTOML_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ZENML_AUTO_OPEN_DASHBOARD": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    # no hub downloads happen, so the hub's progress bars only ever draw "Writing model shards" at each save
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def apply_offline_env() -> None:
    """Set the offline variables unless the caller already chose a value."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)

"""Ray, the engine for the data-parallel work (clip extraction, batch scoring): local by default, a cluster by
address.

With no address a Ray instance is started on this machine with all its cores (no set-up; its session files
under `.cache/ray`); `ray_address` in a run config, or the `RAY_ADDRESS` environment variable, sends the same
tasks to a cluster (`ray://head:10001` or `auto` on a cluster node), shipping this package to the workers.
The clip store must then be a location every worker reaches (a shared path or an fsspec URL such as
`s3://bucket/clips`).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
LOCAL_TEMP = PACKAGE_DIR.parent / ".cache" / "ray"


@contextmanager
def ray_session(address: str | None = None):
    """Connect to Ray for the block (or use the connection already open, e.g. a test's), then disconnect."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        log.info("Ray: connecting to the cluster at %s", address)
        ray.init(address=address, runtime_env={"py_modules": [str(PACKAGE_DIR)]}, log_to_driver=False)
    else:
        temp = LOCAL_TEMP if len(str(LOCAL_TEMP)) < 60 else None  # Ray's socket paths must stay short
        if temp is not None:
            temp.mkdir(parents=True, exist_ok=True)
        # logging_level ERROR: Ray's token-authentication notice and start-up lines say nothing a user acts on
        # for a private local instance (token authentication stays on); the line below says what started
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 _temp_dir=str(temp) if temp else None)  # fmt: skip
        log.info("Ray: started locally with %d CPUs", os.cpu_count())
    try:
        yield ray
    finally:
        ray.shutdown()

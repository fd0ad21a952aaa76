"""Worker processes for untrusted work (decoding uploads), each job killed and its worker replaced past a deadline.

Native decoders meet untrusted bytes: some files make them spin inside C code where no Python check runs,
or crash the process. A job here runs in a spawned process of a `pebble.ProcessPool` (a maintained library,
not a home-made pool): past its deadline the worker is terminated and a fresh one takes its slot, and a
crash costs only that job. So a hostile upload can neither pin a decoding slot nor take the service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout

MMAP_THRESHOLD = 1 << 20  # bytes: larger blocks are mapped on their own, and unmapped when freed (see WorkerPool)


class JobTimeout(Exception):
    """The job ran past its deadline; its worker was killed and replaced."""


class WorkerCrashed(Exception):
    """The worker process died while running the job (a native decoder crash); a new one replaces it."""


def _then_release(fn: Callable, args: tuple, kwargs: dict):
    """Run a job, then hand the memory its frames used back to the system (`malloc_trim`): glibc keeps freed
    blocks in its arenas, so a worker that once decoded a 4K window would otherwise stay that large."""
    try:
        return fn(*args, **kwargs)
    finally:
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to hand back this way
            ctypes.CDLL("libc.so.6").malloc_trim(0)


class WorkerPool:
    """`workers` spawned processes; `initializer` runs once in each (also in replacements), e.g. imports.

    Memory stays bounded over a long run: each job's freed memory is handed back (`_then_release`), the decoder
    threads share at most `MALLOC_ARENA_MAX` (2) glibc arenas instead of one each, blocks of 1 MiB and more (a
    frame, a window's luma) are mapped on their own and unmapped when freed (`MALLOC_MMAP_THRESHOLD_`), and a
    worker is replaced after `max_tasks` jobs (a bound on whatever a native library keeps).

    The fixed mmap threshold matters most: glibc's own threshold rises to the size of the largest mapped block
    freed (up to 32 MiB), after which the 6 MB RGB frames of a 1080p window come from the heap, where they
    fragment and stay until the next trim: a worker's peak on a 10 s 1080p upload was 550-570 MiB with the
    sliding threshold and 470 MiB with a fixed 1 MiB (2026-12-03; `make bench-soak` measures the service's).
    """

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None, max_tasks: int = 200) -> None:
        from pebble import ProcessPool

        os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # both read by glibc when the workers start
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
        self._pool = ProcessPool(
            max_workers=workers, max_tasks=max_tasks, initializer=initializer,
            context=multiprocessing.get_context("spawn"),
        )  # fmt: skip

    async def run(self, fn: Callable, *args, timeout_s: float, **kwargs):
        """`fn(*args, **kwargs)` in a worker; raises `JobTimeout`, `WorkerCrashed` or the job's own exception."""
        from pebble import ProcessExpired

        future = self._pool.schedule(_then_release, args=(fn, args, kwargs), timeout=max(timeout_s, 0.001))
        try:
            # shielded: a request cancelled by its own timeout leaves the job to its cooperative deadline (it
            # stops at the next clip, its worker stays warm); only a job stuck past `timeout_s` is killed
            return await asyncio.shield(asyncio.wrap_future(future))
        except FutureTimeout as exc:
            raise JobTimeout(f"job did not finish in {timeout_s:.3g} s; its worker was replaced") from exc
        except ProcessExpired as exc:
            raise WorkerCrashed(f"worker died with exit code {exc.exitcode}") from exc

    def close(self) -> None:
        self._pool.stop()
        self._pool.join()

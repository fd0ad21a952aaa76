"""Decode workers: a job stuck in native code is killed at its deadline and the slot comes back."""

from __future__ import annotations

import asyncio
import ctypes
import os
import time

import pytest

from deepfake_detection.scoring.worker_pool import JobTimeout, WorkerCrashed, WorkerPool


def stuck_in_native_code(seconds: int) -> None:
    """libc's sleep(): C code where no Python signal handler or deadline check ever runs (like a decoder spin)."""
    ctypes.CDLL(None).sleep(seconds)


def crash() -> None:
    os.abort()  # what a native decoder crash looks like from outside


def worker_pid() -> int:
    return os.getpid()


@pytest.fixture
def pool():
    pool = WorkerPool(1)  # a single slot: if it were not given back, nothing else could run
    yield pool
    pool.close()


def test_a_stuck_job_is_killed_and_its_slot_comes_back(pool):
    async def scenario():
        first = await pool.run(worker_pid, timeout_s=60)
        started = time.monotonic()
        with pytest.raises(JobTimeout):
            await pool.run(stuck_in_native_code, 600, timeout_s=2)
        waited = time.monotonic() - started
        second = await pool.run(worker_pid, timeout_s=60)
        return first, waited, second

    first, waited, second = asyncio.run(scenario())
    assert waited < 30  # stopped at its deadline, not after the 600 s the job wanted
    assert second != first  # the stuck worker was killed; a fresh one answers


def test_a_crashed_worker_costs_one_job(pool):
    async def scenario():
        with pytest.raises(WorkerCrashed):
            await pool.run(crash, timeout_s=60)
        return await pool.run(sum, [1, 2, 3], timeout_s=60)

    assert asyncio.run(scenario()) == 6


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def frame_mapped_on_its_own() -> bool:
    """Whether a 6 MB block (a 1080p RGB frame) is mapped on its own after a 16 MiB one was freed: glibc's
    own threshold would have risen to 16 MiB and put the frame on the heap, where freed frames fragment."""
    import numpy as np

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    big = np.ones(16 << 20, np.uint8)
    del big
    before = libc.mallinfo2().hblkhd  # bytes in blocks mapped on their own
    frame = np.ones(6 << 20, np.uint8)
    return libc.mallinfo2().hblkhd - before >= frame.nbytes


def test_a_workers_large_blocks_go_back_to_the_system_when_freed(pool):
    with open("/proc/self/environ", "rb") as f:  # the environment this process started with
        fixed_here = b"MALLOC_MMAP_THRESHOLD_=" in f.read()
    assert fixed_here or not frame_mapped_on_its_own()  # glibc's sliding threshold here, what the workers avoid
    assert asyncio.run(pool.run(frame_mapped_on_its_own, timeout_s=60))

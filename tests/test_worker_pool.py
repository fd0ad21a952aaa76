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

"""Start a real `bentoml serve` of this repository on loopback (tests and benchmarks), with its own settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    pid: int
    log_path: Path


@contextmanager
def bentoml_server(settings: dict, folder: Path, startup_timeout_s: float = 180):
    """Yield a running service (URL, process id, log); stop it afterwards and show its log if it never got ready."""
    config = folder / "serving.yaml"
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log_path = folder / "server.log"
    env = {**os.environ, "DEEPFAKE_SERVING_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    cmd = [str(Path(sys.executable).parent / "bentoml"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"bentoml serve exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {startup_timeout_s}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield Server(url, proc.pid, log_path)
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its children (the BentoML workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total

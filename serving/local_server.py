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
def bentoml_server(
    settings: dict,
    folder: Path,
    startup_timeout_s: float = 180,
    bento: str | None = None,
    bentoml_home: Path | None = None,
):
    """Yield a running service (URL, process id, log); stop it afterwards and show its log if it never got ready.

    `bento`: serve that built Bento (a tag) instead of the repository, from an empty folder (`folder/cwd`) and
    without the repository on PYTHONPATH, so the code served is the Bento's own. `bentoml_home`: the BentoML home
    (model and Bento store) to serve from; the environment's when None.
    """
    config = folder / "serving.yaml"
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log_path = folder / "server.log"
    env = {**os.environ, "DEEPFAKE_SERVING_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    if bentoml_home is not None:
        env["BENTOML_HOME"] = str(bentoml_home)
    cwd = REPO
    if bento is not None:
        del env["PYTHONPATH"]
        (cwd := folder / "cwd").mkdir()
    target = [bento] if bento else []  # no target: the repository (bentofile.yaml in cwd)
    cmd = [str(Path(sys.executable).parent / "bentoml"), "serve", *target, "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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


def process_tree(pid: int) -> list:
    """`psutil.Process` of a process and all its children (the BentoML workers, the decode workers); one may
    exit before it is read (a replaced worker): readers catch `psutil.NoSuchProcess`."""
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its children (the BentoML workers)."""
    import psutil

    total = 0
    for p in process_tree(pid):
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total

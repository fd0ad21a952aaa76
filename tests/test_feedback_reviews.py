"""Reviews end to end: `POST /feedback` on a real uvicorn server (the router and auth middleware the service
mounts), the CLI and the page in headless Chromium, against SQLite and a real PostgreSQL server; 200 concurrent
posts, a server killed with SIGKILL mid-stream, bearer-token auth on and off."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest
import requests
import yaml
from browser import ARTIFACTS, CHROMIUM, chromium_page

from deepfake_detection.feedback.reviews import ReviewStore
from deepfake_detection.monitoring.request_log import RequestLog
from serving.local_server import free_port

pytestmark = pytest.mark.slow  # real servers: uvicorn, PostgreSQL, Chromium
REPO = Path(__file__).resolve().parent.parent
# The app a test server runs: exactly the pieces serving/service.py mounts (router + auth middleware), the page,
# and a stand-in /detect route (the middleware guards the path, whatever answers it).
APP = f"""
from fastapi import FastAPI
from fastapi.responses import FileResponse
from deepfake_detection.service_settings import ServiceSettings
from serving.auth import BearerAuth, BearerAuthMiddleware
from serving.feedback import FeedbackAPI, feedback_router

settings = ServiceSettings.load()
app = FastAPI()
app.add_middleware(BearerAuthMiddleware, auth=BearerAuth(settings.auth))
app.include_router(feedback_router(FeedbackAPI.from_settings(settings)))


@app.get("/")
def page():
    return FileResponse({str(REPO / "serving" / "static" / "index.html")!r})


@app.post("/detect")
def detect():
    return {{"stand_in": True}}
"""


@contextmanager
def feedback_server(folder: Path, settings: dict, env: dict | None = None):
    """A real uvicorn server of APP on loopback; yields (url, process)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "review_app.py").write_text(APP)
    (folder / "serving.yaml").write_text(yaml.safe_dump(settings))
    port = free_port()
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "review_app:app", "--app-dir", str(folder), "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": str(REPO), "DEEPFAKE_SERVING_CONFIG": str(folder / "serving.yaml"),
             **(env or {})},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(folder / 'server.log').read_text()[-3000:]}")
            try:
                requests.get(f"{url}/", timeout=2)  # any answer: it is listening
                break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready")
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        log.close()


def answered_requests(log_dir: Path, n: int, prefix: str = "req") -> list[str]:
    """`n` answered requests in a request log, as /detect writes them."""
    log = RequestLog(log_dir)
    ids = [f"{prefix}{uuid.uuid4().hex[:12]}" for _ in range(n)]
    for i, request_id in enumerate(ids):
        log.append({"request_id": request_id, "model_name": "deepfake-videomae", "model_version": "4",
                    "verdict": "fake" if i % 2 else "real", "p_fake": 0.9 if i % 2 else 0.1, "width": 1280.0,
                    "height": 720.0, "codec": "h264", "blockiness": 0.25})  # fmt: skip
    return ids


def post(url: str, body: dict, token: str | None = None, timeout: float = 60) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/feedback", json=body, headers=headers, timeout=timeout)


# ---------- PostgreSQL: a throw-away cluster of Debian's postgresql ----------


def _postgres_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else (Path(p).parent if (p := shutil.which("initdb")) else None)


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server for this module (initdb + pg_ctl in a temp dir, as the postgres user when root), or
    $DEEPFAKE_TEST_POSTGRES_URL. Skips, saying so, where PostgreSQL is not installed."""
    if url := os.environ.get("DEEPFAKE_TEST_POSTGRES_URL"):
        yield url
        return
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it): the "
                    "PostgreSQL review-store tests are skipped")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="pg-reviews-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "reviews", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")  # fmt: skip
    try:
        yield f"postgresql+psycopg://reviews@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reviews.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    with ReviewStore(url).engine.begin() as db:  # a clean table per test
        db.exec_driver_sql("DROP TABLE IF EXISTS reviews")
    return url


# ---------- tests ----------


def test_feedback_api_answers_every_case(tmp_path):
    ids = answered_requests(tmp_path / "log", 2)
    settings = {"request_log_dir": str(tmp_path / "log"), "reviews": {"max_note_chars": 50}}
    with feedback_server(tmp_path / "srv", settings) as (url, _):
        ok = post(url, {"request_id": ids[1], "label": "confirmed fake", "reviewer": " ann ", "note": "lips blur"})
        assert ok.status_code == 201, ok.text
        review = ok.json()["review"]
        assert (review["label"], review["reviewer"], review["note"], review["source"]) == (
            "confirmed_fake", "ann", "lips blur", "api")  # fmt: skip
        # tied to the request-log row of that answer
        assert (review["model_version"], review["verdict"], review["p_fake"]) == ("4", "fake", 0.9)
        again = {"request_id": ids[0], "label": "actually_real", "reviewer": "bob", "review_id": "retry-1"}
        assert post(url, again).status_code == 201
        assert post(url, again).status_code == 200  # a retry is not a second review
        assert post(url, {**again, "label": "unsure"}).status_code == 409
        cases = [
            ({"request_id": ids[0], "label": "maybe", "reviewer": "bob"}, 400, "bad_review"),
            ({"request_id": ids[0], "label": "unsure"}, 400, "bad_review"),  # no reviewer
            ({"request_id": ids[0], "label": "unsure", "reviewer": "b", "note": "x" * 51}, 400, "bad_review"),
            ({"request_id": ids[0], "label": "unsure", "reviewer": "b", "colour": 1}, 400, "bad_field"),
            ({"request_id": "nosuchrequest", "label": "unsure", "reviewer": "bob"}, 404, "unknown_request"),
            ({"request_id": "../../etc", "label": "unsure", "reviewer": "bob"}, 400, "bad_review"),
        ]
        for body, status, reason in cases:
            resp = post(url, body)
            assert (resp.status_code, resp.json()["reason"]) == (status, reason), (body, resp.text)
        assert "label" in post(url, {"request_id": ids[0], "label": "maybe", "reviewer": "b"}).json()["error"]
        form = requests.post(f"{url}/feedback", data={"request_id": ids[0]}, timeout=10)
        assert form.status_code == 415  # a form from another site cannot post a review
        raw = requests.post(f"{url}/feedback", data="{not json", headers={"Content-Type": "application/json"},
                            timeout=10)  # fmt: skip
        assert raw.status_code == 400 and raw.json()["reason"] == "bad_json"
        big = requests.post(f"{url}/feedback", data=b"[" + b" " * 70_000 + b"]",
                            headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
        assert big.status_code == 413
        listed = requests.get(f"{url}/feedback/{ids[0]}", timeout=10).json()["reviews"]
        assert [r["review_id"] for r in listed] == ["retry-1"]
        assert requests.get(f"{url}/feedback/nosuchrequest", timeout=10).status_code == 404
        assert set(requests.get(f"{url}/feedback/labels", timeout=10).json()["labels"]) == {
            "confirmed_fake", "actually_real", "unsure"}  # fmt: skip
    assert ReviewStore(f"sqlite:///{tmp_path / 'log' / 'reviews.sqlite'}").count() == 2  # the default store


def test_200_concurrent_posts_give_200_rows(tmp_path, store_url):
    ids = answered_requests(tmp_path / "log", 200)
    settings = {"request_log_dir": str(tmp_path / "log"), "reviews": {"database_url": store_url}}
    with feedback_server(tmp_path / "srv", settings) as (url, _):

        def one(request_id: str) -> int:
            return post(url, {"request_id": request_id, "label": "confirmed_fake", "reviewer": "ann"}).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(200) as pool:
            statuses = list(pool.map(one, ids))
        seconds = time.monotonic() - started
    store = ReviewStore(store_url)
    table = store.table()
    assert statuses.count(201) == 200, sorted(set(statuses))
    assert len(table) == 200 and set(table.request_id) == set(ids) and table.review_id.is_unique
    print(f"200 concurrent reviews ({store_url.split(':')[0]}): {seconds:.2f} s, {200 / seconds:.0f} reviews/s")


def test_sigkill_mid_stream_keeps_every_acknowledged_review(tmp_path, store_url):
    ids = answered_requests(tmp_path / "log", 50)
    settings = {"request_log_dir": str(tmp_path / "log"), "reviews": {"database_url": store_url}}
    acknowledged: list[str] = []
    lock, stop = threading.Lock(), threading.Event()
    with feedback_server(tmp_path / "srv", settings) as (url, proc):

        def writer(k: int) -> None:
            n = 0
            while not stop.is_set():
                review_id = f"w{k}-{n}"
                n += 1
                try:
                    resp = post(url, {"request_id": ids[n % 50], "label": "unsure", "reviewer": f"r{k}",
                                      "review_id": review_id}, timeout=10)  # fmt: skip
                except requests.RequestException:
                    return  # the server is gone: an answer never received is not an acknowledgement
                if resp.status_code == 201:
                    with lock:
                        acknowledged.append(review_id)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-stream: 8 writers are posting
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(20)
    stored = set(ReviewStore(store_url).table().review_id)
    assert len(acknowledged) >= 150
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged reviews lost"
    print(f"SIGKILL after {len(acknowledged)} acknowledged reviews: all {len(acknowledged)} stored "
          f"({len(stored)} rows, {len(stored) - len(acknowledged)} committed but never acknowledged)")  # fmt: skip


def test_store_round_trip_on_postgresql(postgres_url):
    store = ReviewStore(postgres_url)
    with store.engine.begin() as db:
        db.exec_driver_sql("DROP TABLE IF EXISTS reviews")
    store = ReviewStore(postgres_url)
    row = {"time": 1.5, "model_name": "m", "model_version": "2", "verdict": "real", "p_fake": 0.25,
           "width": float("nan"), "codec": "vp9"}  # fmt: skip
    review, created = store.add("r1", "Actually-Real", "ann", "ok", request_row=row)
    assert created and review.label == "actually_real" and review.features == {"width": None, "codec": "vp9"}
    assert store.add("r1", "actually_real", "ann", "ok", review_id=review.review_id)[1] is False
    with pytest.raises(Exception, match="known_label"), store.engine.begin() as db:  # the database refuses it too
        db.exec_driver_sql("INSERT INTO reviews (review_id, request_id, label, reviewer, source, created_at) "
                           "VALUES ('x', 'r1', 'maybe', 'a', 'api', 1.0)")  # fmt: skip
    assert store.for_request("r1")[0].p_fake == 0.25 and store.count() == 1


def test_auth_on_and_off(tmp_path, caplog):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from deepfake_detection.service_settings import AuthSettings
    from serving.auth import BearerAuth, BearerAuthMiddleware, exposure_warnings, is_loopback

    (request_id,) = answered_requests(tmp_path / "log", 1)
    body = {"request_id": request_id, "label": "unsure", "reviewer": "ann"}
    settings = {"request_log_dir": str(tmp_path / "log"), "auth": {"detect": {"tokens_env": "T_DETECT"},
                                                                   "feedback": {"tokens_env": "T_REVIEW"}}}  # fmt: skip
    with feedback_server(tmp_path / "on", settings, {"T_DETECT": "client-1,client-2", "T_REVIEW": "rev-1"}) as (url, _):
        assert requests.get(f"{url}/", timeout=10).status_code == 200  # the page stays open
        missing = post(url, body)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert post(url, body, token="guess").status_code == 401
        assert "invalid_token" in post(url, body, token="guess").headers["WWW-Authenticate"]
        wrong = post(url, body, token="client-2")  # a client's token is not a reviewer's
        assert wrong.status_code == 403 and wrong.json()["reason"] == "forbidden"
        assert post(url, body, token="rev-1").status_code == 201

        def detect(token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return requests.post(f"{url}/detect", headers=headers, timeout=10).status_code

        assert (detect(None), detect("client-1"), detect("rev-1")) == (401, 200, 403)
    with feedback_server(tmp_path / "off", {"request_log_dir": str(tmp_path / "log")}) as (url, _):
        assert post(url, body).status_code == 201 and requests.post(f"{url}/detect", timeout=10).status_code == 200
    # off by default; said loudly when reached beyond loopback without it
    open_auth = BearerAuth(AuthSettings())
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    assert exposure_warnings("127.0.0.1", open_auth) == [] and len(exposure_warnings("0.0.0.0", open_auth)) == 2
    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, auth=open_auth)
    app.get("/livez")(lambda: {"ok": True})
    with caplog.at_level("WARNING", logger="deepfake_detection.service.auth"):
        TestClient(app, base_url="http://127.0.0.1:3000").get("/livez")
        assert "NO AUTH" not in caplog.text
        TestClient(app, base_url="http://10.20.30.40:3000").get("/livez")
    assert caplog.text.count("NO AUTH") == 2 and "10.20.30.40" in caplog.text


def test_cli_reviews_directly_and_through_the_service(tmp_path):
    ids = answered_requests(tmp_path / "log", 2)
    settings = tmp_path / "serving.yaml"
    store_url = f"sqlite:///{tmp_path / 'reviews.sqlite'}"
    settings.write_text(yaml.safe_dump({"request_log_dir": str(tmp_path / "log"),
                                        "reviews": {"database_url": store_url}}))  # fmt: skip
    cli = [sys.executable, "-m", "deepfake_cli"]
    run = lambda *a: subprocess.run([*cli, *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    ok = run("review", ids[0], "confirmed fake", "--reviewer", "ann", "--note", "cli", "--settings", str(settings))
    assert ok.returncode == 0, ok.stderr
    assert "confirmed_fake by ann (model version 4" in ok.stdout
    bad = run("review", ids[0], "fakeish", "--reviewer", "ann", "--settings", str(settings))
    assert bad.returncode == 1 and "is not one of confirmed_fake, actually_real, unsure" in bad.stderr
    unknown = run("review", "nosuch", "unsure", "--reviewer", "ann", "--settings", str(settings))
    assert unknown.returncode == 1 and "no answered request" in unknown.stderr
    assert run("review", ids[0], "unsure", "--reviewer", "a", "--settings", str(tmp_path / "nope.yaml")).returncode == 2
    server_settings = {"request_log_dir": str(tmp_path / "log"), "reviews": {"database_url": store_url},
                       "auth": {"feedback": {"tokens_env": "T_REVIEW"}}}  # fmt: skip
    with feedback_server(tmp_path / "srv", server_settings, {"T_REVIEW": "rev-9"}) as (url, _):
        refused = run("review", ids[1], "actually_real", "--reviewer", "bob", "--url", url)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr
        via = run("review", ids[1], "actually_real", "--reviewer", "bob", "--url", url, "--token", "rev-9")
        assert via.returncode == 0, via.stderr
    listed = run("reviews", "--settings", str(settings), "--format", "csv")
    assert listed.returncode == 0 and listed.stdout.count("\n") == 3  # header + 2 reviews
    table = ReviewStore(store_url).table()
    assert list(zip(table.label, table.source, strict=True)) == [("confirmed_fake", "cli"), ("actually_real", "cli")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is not installed at {CHROMIUM} (make browser)")
def test_page_review_buttons_post_feedback(tmp_path):
    (request_id,) = answered_requests(tmp_path / "log", 1)
    store_url = f"sqlite:///{tmp_path / 'reviews.sqlite'}"
    settings = {"request_log_dir": str(tmp_path / "log"), "reviews": {"database_url": store_url},
                "auth": {"feedback": {"tokens_env": "T_REVIEW"}}}  # fmt: skip
    # an answer of the shape /detect gives (the page shows it as it shows one it received)
    answer = {"request_id": request_id, "verdict": "fake", "p_fake": 0.9, "threshold": 0.5, "faces": [],
              "video": {"width": 1280, "height": 720}, "timings": {}, "reasons": [],
              "model": {"name": "deepfake-videomae", "version": "4", "stage": "production"}}  # fmt: skip
    errors: list[str] = []
    with feedback_server(tmp_path / "srv", settings, {"T_REVIEW": "rev-7"}) as (url, _), chromium_page() as page:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.evaluate("(a) => { document.getElementById('result').hidden = false; show(a); }", answer)
        page.wait_for_selector("#review:not([hidden])")
        assert page.locator("#review button[data-label]").all_inner_texts() == [
            "Confirmed fake", "Actually real", "Unsure"]  # fmt: skip
        page.click("#review button[data-label=confirmed_fake]")
        assert "Enter your name" in page.inner_text("#review-status")  # nothing posted without a reviewer
        page.fill("#review-reviewer", "dana")
        page.fill("#review-note", "the mouth lags the audio")
        page.click("#review button[data-label=confirmed_fake]")
        page.wait_for_function("document.getElementById('review-status').textContent.includes('not saved')")
        assert "needs a bearer token" in page.inner_text("#review-status")  # 401, said in words
        page.fill("#review-token", "rev-7")
        page.click("#review button[data-label=actually_real]")
        page.wait_for_function("document.getElementById('review-status').textContent.startsWith('Saved')")
        assert page.get_attribute("#review button[data-label=actually_real]", "aria-pressed") == "true"
        page.screenshot(path=str(ARTIFACTS / "feedback_review.png"), full_page=True)
    assert not errors, errors
    (review,) = ReviewStore(store_url).for_request(request_id)
    assert (review.label, review.reviewer, review.note, review.source) == (
        "actually_real", "dana", "the mouth lags the audio", "page")  # fmt: skip

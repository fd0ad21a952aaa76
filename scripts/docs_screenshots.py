"""The documentation's two screenshots, taken for real (after `make demo`): `docs/img/page.png` and
`docs/img/drift.png`.

- page: `bentoml serve` of this checkout with the demo model (the project's BentoML store), its page opened in
  Debian's headless Chromium, a demo test video (a DemoFaceSwap fake) uploaded through the file chooser, the
  screenshot taken when the verdict is shown;
- drift: the newest `make demo` drift report of the shifted traffic (`.cache/reports/drift/drift_*_demo-shifted
  .html`, an Evidently report), opened from disk and cut to its first screen.

Usage: .venv/bin/python scripts/docs_screenshots.py   (needs /usr/bin/chromium: `make browser`)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from browser import chromium_page  # noqa: E402

from serving.local_server import bentoml_server  # noqa: E402

IMG = REPO / "docs" / "img"
DEMO = REPO / ".cache" / "demo_ffpp" / "manipulated_sequences" / "DemoFaceSwap" / "c23" / "videos"


def page_screenshot(video: Path) -> Path:
    out = IMG / "page.png"
    with tempfile.TemporaryDirectory() as tmp:
        server_context = bentoml_server({"request_log_dir": f"{tmp}/log"}, Path(tmp))
        with server_context as server, chromium_page(1100, 1350) as page:
            page.on("filechooser", lambda _: None)
            page.goto(server.url + "/")
            page.wait_for_selector("#model-warning[role=alert]")
            with page.expect_file_chooser() as chooser:
                page.click("#drop")
            chooser.value.set_files(str(video))
            page.wait_for_selector("#verdict[data-verdict]", timeout=180_000)
            page.wait_for_timeout(500)  # images of the timeline drawn
            page.screenshot(path=str(out), full_page=True)
    return out


def drift_screenshot() -> Path:
    reports = sorted((REPO / ".cache" / "reports" / "drift").glob("drift_*_demo-shifted.html"))
    if not reports:
        raise SystemExit("no drift report of the shifted demo traffic: run `make demo` first")
    out = IMG / "drift.png"
    with chromium_page(1300, 1000) as page:
        page.goto(reports[-1].as_uri())
        page.wait_for_timeout(4000)  # Evidently draws its plots with its bundled JavaScript
        page.screenshot(path=str(out))
    return out


def main() -> None:
    videos = sorted(DEMO.glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no demo videos in {DEMO}: run `make demo` first")
    for path in (page_screenshot(videos[-1]), drift_screenshot()):
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

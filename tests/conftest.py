"""Shared fixtures. The offline environment and a throw-away ZenML store are set before anything imports ZenML."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from deepfake_detection.offline import apply_offline_env

apply_offline_env()
# Tests never touch the user's (or the demo's) ZenML store: one temporary store per test session.
os.environ["ZENML_CONFIG_PATH"] = tempfile.mkdtemp(prefix="zenml-test-")
os.environ.setdefault("ZENML_LOGGING_COLORS_DISABLED", "true")

REPO = Path(__file__).resolve().parent.parent
FFPP_SAMPLE = REPO.parent / "shared" / "ffpp_sample"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test helpers (synthetic_clips)
sys.path.insert(0, str(REPO))  # steps/ and pipelines/ for tests that save artifacts with their materializers


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def ffpp_sample() -> Path:
    """The 7 real FF++ c23 videos beside the checkout; tests using them skip when they are absent."""
    if not any(FFPP_SAMPLE.glob("**/*.mp4")):
        pytest.skip(f"FaceForensics++ sample not present at {FFPP_SAMPLE}")
    return FFPP_SAMPLE


@pytest.fixture(scope="session")
def dfdc_sample() -> Path:
    """The 2 hard real DFDC videos beside the checkout (research-only); tests using them skip when absent."""
    folder = REPO.parent / "shared" / "dfdc_sample"
    if not any(folder.glob("*.mp4")):
        pytest.skip(f"DFDC sample not present at {folder}")
    return folder


@pytest.fixture(scope="session")
def carphone() -> Path:
    from deepfake_detection.datasets.demo import carphone_path

    return carphone_path()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A small demo set (4 pairs, 32 frames): 48 videos in the FF++ layout with its own split files."""
    from deepfake_detection.config import DemoParams
    from deepfake_detection.datasets.demo import build_demo_dataset

    root = tmp_path_factory.mktemp("demo_ffpp")
    return build_demo_dataset(root, DemoParams(pairs={"train": 2, "val": 1, "test": 1}, frames=32, seed=1))


@pytest.fixture(scope="session")
def small_clip_params():
    from deepfake_detection.config import ClipParams

    return ClipParams(clips_per_video=2)


@pytest.fixture(scope="session")
def small_demo_tables(small_demo, small_clip_params, tmp_path_factory):
    """Catalog, clip table and failure table of the small demo set."""
    from deepfake_detection.data.clip_store import ClipStore, extract_catalog
    from deepfake_detection.datasets.ffpp import OfficialSplits, build_catalog

    catalog = build_catalog(small_demo, splits=OfficialSplits.load(small_demo / "splits"))
    store = ClipStore(tmp_path_factory.mktemp("clips"), small_clip_params)
    clips, failures = extract_catalog(catalog, store)
    return catalog, clips, failures, store


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs) for the session's Ray tests; the code under test reuses it."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


# Tests also never touch the checkout's BentoML store.
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="bentoml-test-")

# One checkout is self-contained: the virtualenv, ZenML store, BentoML home and caches live in it.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export ZENML_ANALYTICS_OPT_IN := false
export BENTOML_DO_NOT_TRACK := true
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ZENML_AUTO_OPEN_DASHBOARD := false
export RAY_USAGE_STATS_ENABLED := 0
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export ZENML_CONFIG_PATH := $(CURDIR)/.cache/zenml
export BENTOML_HOME := $(CURDIR)/.cache/bentoml
export PYTHONPATH := $(CURDIR)
# a pipeline with its run config, after checking its datasets and checkpoint are there (deepfake_cli.preflight)
RUN := $(BIN)/python -m deepfake_cli run

.PHONY: install demo demo-sbi cross-eval data train serve bento score fast-path bench bench-serve bench-monitor bench-faces bench-footage bench-soak monitor dashboard test lint clean browser feedback continuous-training docs

install: $(STAMP)

# torch first, alone: pip takes the CPU wheel from disk; torchvision is never installed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.zen: | $(STAMP)
	$(BIN)/zenml init

# The main job on the embedded default: demo data -> clips -> training -> promotion -> BentoML export.
demo: $(STAMP) .zen
	$(RUN) data -c configs/demo.yaml
	$(RUN) train -c configs/demo_training.yaml
	$(RUN) cross-eval -c configs/cross_eval_demo.yaml
	$(BIN)/python scripts/demo_summary.py
	rm -rf .cache/demo_traffic
	$(BIN)/python scripts/replay_traffic.py --kind matching --log-dir .cache/demo_traffic/matching
	$(BIN)/python scripts/replay_traffic.py --kind shifted --log-dir .cache/demo_traffic/shifted --keep-videos
	$(RUN) monitor -c configs/monitoring_demo_matching.yaml
	$(RUN) monitor -c configs/monitoring_demo_shifted.yaml
	$(BIN)/python scripts/drift_summary.py
	$(BIN)/python scripts/simulate_reviews.py --traffic .cache/demo_traffic
	$(RUN) feedback -c configs/feedback_demo.yaml
	$(RUN) continuous-training -c configs/continuous_training_demo.yaml
	$(BIN)/python scripts/loop_summary.py

# Reviews + request log + retained clips -> reviewed_dataset -> production and staging on it (configs/feedback.yaml).
feedback: $(STAMP) .zen
	$(RUN) feedback -c configs/feedback.yaml

# Retrain from production when drift or new reviews say so, else record why not (cron line in the config).
continuous-training: $(STAMP) .zen
	$(RUN) continuous-training -c configs/continuous_training.yaml

# Drift of the service's logged requests (configs/monitoring.yaml) against the production model's training videos.
monitor: $(STAMP) .zen
	$(RUN) monitor -c configs/monitoring.yaml

# The drift report dashboard: Evidently UI over the project's workspace on http://127.0.0.1:8000
dashboard: $(STAMP)
	$(BIN)/evidently ui --workspace .cache/evidently --host 127.0.0.1 --port 8000

data: $(STAMP) .zen
	$(RUN) data -c configs/demo.yaml

train: $(STAMP) .zen
	$(RUN) train -c configs/demo_training.yaml

# The BentoML service on 127.0.0.1:3000 with the latest exported model (configs/serving.yaml).
serve: $(STAMP)
	$(BIN)/bentoml serve --host 127.0.0.1 --port 3000

# Where an answer's time goes: matmul peak, decode, faces, the model per path, the service end to end (numbers).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# A Bento of the service with the model `make demo` exported and pinned dependencies; prints its tag
# (`bentoml serve TAG`, `bentoml containerize TAG`).
bento: $(STAMP)
	$(BIN)/python scripts/build_bento.py

# Cross-dataset evaluation of the production model (CROSS_CONFIG: configs/cross_eval_celebdf.yaml for real sets)
CROSS_CONFIG ?= configs/cross_eval_demo.yaml
cross-eval: $(STAMP) .zen
	$(RUN) cross-eval -c $(CROSS_CONFIG)

# After `make demo`: a model trained on real clips and their self-blended copies only (SBI), cross-evaluated on
# the demo's fakes it never saw; prints the registry version to compare (~10 min on 2 cores).
demo-sbi: $(STAMP) .zen
	$(RUN) train -c configs/demo_training_sbi.yaml
	$(BIN)/python scripts/cross_eval_latest.py configs/cross_eval_demo.yaml

# Batch scoring on Ray with the production model: one Parquet row per video (VIDEOS: a folder or a list file).
VIDEOS ?= .cache/demo_ffpp
score: $(STAMP) .zen
	$(BIN)/python -m pipelines.batch_scoring_pipeline --videos $(VIDEOS)

# The OpenVINO fast path for a model exported before (the training pipeline builds it at export).
fast-path: $(STAMP)
	$(BIN)/python scripts/build_fast_path.py

# Latency and throughput of the service at concurrency 1/4/16, adaptive batching on and off (prints numbers).
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/bench_serving.py

# The front end per file (DFDC samples when present, 4K, 720p phone, 10 min): decode plan vs one sequential decode,
# faces, features, peak memory (prints numbers; `make bench` runs it too)
bench-footage: $(STAMP)
	$(BIN)/python benchmarks/bench_footage.py

# The service's memory over 100 mixed uploads (4K, hard inputs, DFDC samples), its peak and trend (prints numbers)
bench-soak: $(STAMP)
	$(BIN)/python benchmarks/soak_service.py

# Clip windows with a face before/after, per video, detector ms per frame, a contact sheet (prints numbers).
bench-faces: $(STAMP)
	$(BIN)/python benchmarks/face_recall.py

# How long a monitoring run takes over 1,000 logged requests (after make demo; prints numbers).
bench-monitor: $(STAMP)
	$(BIN)/python benchmarks/bench_monitoring.py

# Debian's chromium for the page test (the test skips, saying so, where it is missing).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# This documentation site (mkdocs.yml, docs/): warnings fail the build; open .cache/site/index.html
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d .cache/site

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -v

# ruff, and the layers contract (pyproject.toml [tool.importlinter]): the library's stages import only downward
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf .cache .zen

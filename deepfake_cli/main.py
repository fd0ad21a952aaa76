"""`deepfake-detect`: score videos and folders in this process, import foreign checkpoints, start the tools.

    deepfake-detect VIDEO_OR_FOLDER... [--model production|version:N|TAG|FOLDER] [--json F] [--html F]
    deepfake-detect import PATH_OR_HUB_ID [--fake-index N] [--config configs/demo_training.yaml]
    deepfake-detect review REQUEST_ID LABEL --reviewer NAME [--note ...] | reviews | purge-clips | forget ID
    deepfake-detect run data|train|cross-eval|monitor|feedback|continuous-training -c CONFIG
    deepfake-detect serve | monitor | dashboard

Scoring runs the service's own path (`scoring.analyze`: probe, faces, persons, clips, the model, the same
decision) with the service's settings (`configs/serving.yaml`: clips per video, face finding, limits), so a
file gets the answer `/detect` gives it. A file that cannot be analysed is a row with its error; the exit
status is non-zero only for usage errors (a missing path, an unknown model). State is the project's: the
checkout's `.cache/zenml` and `.cache/bentoml` (from an installed wheel: the current folder's) unless
ZENML_CONFIG_PATH / BENTOML_HOME say otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

COMMANDS = ("score", "import", "run", "serve", "monitor", "dashboard")
FEEDBACK_COMMANDS = ("review", "reviews", "purge-clips", "forget")
USAGE_ERROR = 2


def project_root() -> Path:
    """The checkout this code runs from (its `pyproject.toml` names this project), else the current folder: where
    state lives (`.cache/`) and where `configs/` is looked for."""
    here = Path(__file__).resolve().parent.parent
    pyproject = here / "pyproject.toml"
    if pyproject.is_file() and 'name = "deepfake-videomae"' in pyproject.read_text():
        return here
    return Path.cwd()


REPO = project_root()


def _project_env() -> None:
    """The offline variables and the checkout's stores, as the Makefile sets them (callers' values win)."""
    from deepfake_detection.offline import apply_offline_env

    apply_offline_env()
    os.environ.setdefault("ZENML_CONFIG_PATH", str(REPO / ".cache" / "zenml"))
    os.environ.setdefault("BENTOML_HOME", str(REPO / ".cache" / "bentoml"))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading bars between the table's rows
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _score_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deepfake-detect",
        description="Score videos with the deepfake detector, in this process, as the service would.",
        epilog="other commands: `deepfake-detect import PATH_OR_HUB_ID` (register a VideoMAE checkpoint; see "
        "`deepfake-detect import --help`), `deepfake-detect serve` (the BentoML service on 127.0.0.1:3000), "
        "`deepfake-detect monitor` (drift of the logged requests), `deepfake-detect dashboard` (Evidently UI).",
    )
    p.add_argument("paths", nargs="+", metavar="VIDEO_OR_FOLDER", help="video files and folders (searched recursively)")
    p.add_argument(
        "--model",
        default="production",
        help="production (the registry's, default), version:N, a BentoML tag, or a model folder",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write the answers as JSON (a list, one per file)")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a one-page HTML report")
    p.add_argument("--explain", action="store_true", help="add per-clip heatmaps (attention rollout; slower)")
    p.add_argument(
        "--backend",
        choices=("auto", "torch"),
        default="auto",
        help="auto: the model's checked OpenVINO fast path when it has one",
    )
    p.add_argument("--settings", type=Path, help="service settings YAML (default configs/serving.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def collect_videos(paths: Sequence[str]) -> list[Path]:
    """Files as given, folders expanded to their videos (by suffix, sorted). Raises FileNotFoundError."""
    from deepfake_detection.scoring.batch import list_videos

    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(Path(p) for p in list_videos(str(path)))
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return out


@dataclass
class ScoringSetup:
    """The detector, the clip parameters and the settings a scoring run uses, and how answers describe the model."""

    detector: object
    params: object
    settings: object
    model: dict


def load_scorer(model: str = "production", backend: str = "auto", settings_file: Path | None = None) -> ScoringSetup:
    """The model named by `model` (production, version:N, a BentoML tag or a folder) with the service's settings.

    Raises LookupError when `model` names nothing usable.
    """
    from deepfake_detection.config import model_geometry
    from deepfake_detection.modeling.detector import Detector
    from deepfake_detection.registry import describe_served_model, resolve_model_folder
    from deepfake_detection.service_settings import ServiceSettings

    settings = ServiceSettings.load(settings_file)
    folder, provenance = resolve_model_folder(model)
    try:
        detector = Detector.load(folder, backend)
    except (OSError, ValueError, KeyError) as exc:
        raise LookupError(f"{model}: cannot load a detector from {folder} ({exc})") from exc
    info = detector.info
    params = settings.clip_params(model_geometry(info) or {})
    labels = {"stage": provenance.get("stage") or info.get("stage", "unknown"),
              "zenml_model_version": provenance.get("version") or info.get("model_version", "unknown")}  # fmt: skip
    described = describe_served_model(provenance.get("model", folder), labels, info)
    described["backend"] = detector.backend
    return ScoringSetup(detector, params, settings, described)


def score_files(videos: Sequence[Path], scorer: ScoringSetup, explain: bool = False, progress=None) -> list[dict]:
    """One `/detect`-shaped answer per file (`file` added; an unreadable file gets `error` and `reason`)."""
    from deepfake_detection.scoring.analyze import analyze_video, error_message, error_reason
    from deepfake_detection.scoring.answer import ErrorAnswer

    answers = []
    for i, video in enumerate(videos):
        try:
            answer = analyze_video(video, scorer.detector, scorer.params, scorer.settings.limits, explain=explain,
                                   model=scorer.model, with_evidence=True)  # fmt: skip
            answer.file = _display(video)
        except Exception as exc:  # a bad file is a row, never a failed run; a bug is still a row but says so
            answer = ErrorAnswer(file=_display(video), error=error_message(exc), reason=error_reason(exc),
                                 model=scorer.model)  # fmt: skip
        answers.append(answer.model_dump(mode="json"))
        if progress:
            progress(i + 1, len(videos), str(video))
    return answers


def table(answers: Sequence[dict]) -> str:
    """The printed table: file, verdict, p_fake, persons (analysed, and seen when more), the Content Credentials'
    state, the assessment's headline, reasons or error."""
    from tabulate import tabulate

    rows = []
    for a in answers:
        if "error" in a:
            rows.append([a["file"], "error", "", "", "", "", _shortened(f"{a['reason']}: {a['error']}", 100)])
        else:
            p = "" if a["p_fake"] is None else f"{a['p_fake']:.3f}"
            counts = a["persons"]
            persons = str(counts["analysed"]) + (f" of {counts['seen']}" if counts["seen"] > counts["analysed"] else "")
            reasons = " ".join(r["message"] for r in a["reasons"])
            credentials = (a.get("provenance") or {}).get("state", "")
            assessment = (a.get("assessment") or {}).get("headline", "")
            rows.append([a["file"], a["verdict"], p, persons, credentials, assessment, _shortened(reasons, 160)])
    return tabulate(rows, headers=["file", "verdict", "p_fake", "persons", "credentials", "assessment",
                                   "reasons / error"])  # fmt: skip


def _shortened(text: str, width: int) -> str:
    """`text` cut at a word to fit `width` characters, marked with " ..." (the JSON and HTML keep it whole)."""
    import textwrap

    return textwrap.shorten(text, width, placeholder=" ...")


def _stderr_progress(done: int, total: int, item: str) -> None:
    print(f"\r[{done}/{total}] {Path(item).name[:60]:<60}", end="\n" if done == total else "", file=sys.stderr)


def score_main(argv: Sequence[str]) -> int:
    args = _score_parser().parse_args(argv)
    try:
        videos = collect_videos(args.paths)
    except FileNotFoundError as exc:
        print(f"deepfake-detect: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not videos:
        print("deepfake-detect: no videos found", file=sys.stderr)
        return USAGE_ERROR
    for out in (args.json, args.html):  # say so now, not after scoring a folder
        if out is not None and (out.is_dir() or not out.parent.is_dir()):
            print(f"deepfake-detect: cannot write {out}: not a file in an existing folder", file=sys.stderr)
            return USAGE_ERROR
    _project_env()
    try:
        scorer = load_scorer(args.model, args.backend, args.settings)
    except (LookupError, OSError, ValueError) as exc:  # the model, or the settings file (ValueError: pydantic too)
        message = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else _first_error(exc)
        print(f"deepfake-detect: {message}", file=sys.stderr)
        return USAGE_ERROR
    if scorer.model.get("warning"):
        print(f"WARNING: {scorer.model['warning']}", file=sys.stderr)
    answers = score_files(videos, scorer, args.explain, None if args.quiet else _stderr_progress)
    print(table(answers))
    try:
        if args.json:
            args.json.write_text(json.dumps(answers, indent=1))
        if args.html:
            from deepfake_detection.scoring.report_html import render_report

            args.html.write_text(render_report(answers), encoding="utf-8")
    except OSError as exc:
        print(f"deepfake-detect: cannot write a report: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"settings: {'.'.join(map(str, first['loc']))}: {first['msg']}"


def _display(path: Path) -> str:
    """A path as text that any JSON or HTML reader takes (undecodable bytes in a file name become U+FFFD)."""
    return os.fsencode(path).decode("utf-8", "replace")


def import_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="deepfake-detect import",
        description="Register a VideoMAE checkpoint as a new version of deepfake-videomae: "
        "evaluated on the test split of the latest clip dataset, promoted only if the gate "
        "agrees. A real/fake head is used as is (label order read from id2label); any "
        "other head (e.g. Kinetics-400) is fine-tuned by the training pipeline.",
    )
    p.add_argument(
        "source", metavar="PATH_OR_HUB_ID", help="a Hugging Face model folder, or a hub id in the local cache"
    )
    p.add_argument("--fake-index", type=int, choices=(0, 1), help="the fake output when id2label does not say")
    default_config = REPO / "configs" / "demo_training.yaml"
    p.add_argument(
        "--config",
        type=Path,
        default=default_config if default_config.is_file() else None,
        help="training config: promotion gate, and the fine-tuning recipe for a non real/fake head (default: "
        "configs/demo_training.yaml in a checkout, else the built-in defaults)",
    )
    args = p.parse_args(argv)
    if args.config is not None and not args.config.is_file():
        print(f"deepfake-detect import: {args.config}: no such config file", file=sys.stderr)
        return USAGE_ERROR
    _project_env()
    from zenml.utils import source_utils

    # The project root: without a `.zen` marker ZenML would guess the source root from this module's folder and
    # record artifact types under paths it cannot load later. Installed, `steps/` and `pipelines/` resolve as the
    # distribution's modules.
    source_utils.set_custom_source_root(str(REPO))
    from deepfake_cli.importing import run_import
    from deepfake_detection.modeling.import_checkpoint import CheckpointError

    try:
        outcome = run_import(args.source, args.config, args.fake_index)
    except CheckpointError as exc:
        print(f"deepfake-detect import: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(outcome)
    return 0


def _run_tool(command: list[str]) -> int:
    _project_env()
    return subprocess.call(command, cwd=REPO)


PIPELINES = {  # `deepfake-detect run NAME -c CONFIG`: the ZenML pipelines, by the names people use
    "data": "pipelines.data_pipeline:data_pipeline",
    "train": "pipelines.training_pipeline:training_pipeline",
    "cross-eval": "pipelines.cross_evaluation_pipeline:cross_evaluation_pipeline",
    "monitor": "pipelines.monitoring_pipeline:monitoring_pipeline",
    "feedback": "pipelines.feedback_pipeline:feedback_pipeline",
    "continuous-training": "pipelines.continuous_training_pipeline:continuous_training_pipeline",
}


def run_main(argv: Sequence[str]) -> int:
    """Run one pipeline with a ZenML run config after checking that what it reads is there
    (`deepfake_cli.preflight`): a missing dataset or checkpoint is one line, not a traceback after minutes."""
    import importlib

    import yaml

    p = argparse.ArgumentParser(prog="deepfake-detect run", description=run_main.__doc__)
    p.add_argument("pipeline", choices=sorted(PIPELINES))
    p.add_argument("-c", "--config", type=Path, help="a ZenML run config (configs/*.yaml)")
    args = p.parse_args(list(argv))
    if args.config is None and args.pipeline == "monitor" and (REPO / "configs" / "monitoring.yaml").is_file():
        args.config = REPO / "configs" / "monitoring.yaml"
    if args.config is not None and not args.config.is_file():
        print(f"deepfake-detect run: {args.config}: no such config file", file=sys.stderr)
        return USAGE_ERROR
    if args.config is None and args.pipeline != "monitor":  # only monitoring has defaults that mean something
        print(f"deepfake-detect run {args.pipeline}: give its run config with -c (configs/*.yaml)", file=sys.stderr)
        return USAGE_ERROR
    from deepfake_cli.preflight import CHECKS, MissingInput

    if args.pipeline in CHECKS:
        kind, check = CHECKS[args.pipeline]
        try:
            data = yaml.safe_load(args.config.read_text()) or {}
            config = kind(**(data.get("parameters", {}) or {}).get("config", {}))
            notes = check(config, str(args.config))
        except ValidationError as exc:
            print(
                f"deepfake-detect run: {args.config}: {_first_error(exc).removeprefix('settings: ')}", file=sys.stderr
            )
            return USAGE_ERROR
        except (MissingInput, yaml.YAMLError, AttributeError) as exc:
            print(f"deepfake-detect run: {str(exc).splitlines()[0]}", file=sys.stderr)
            return USAGE_ERROR
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    _project_env()
    from zenml.utils import source_utils

    source_utils.set_custom_source_root(str(REPO))
    module, name = PIPELINES[args.pipeline].split(":")
    pipeline = getattr(importlib.import_module(module), name)
    try:
        if args.config is not None:
            pipeline.with_options(config_path=str(args.config))()
        else:
            from deepfake_detection.monitoring.drift import MonitoringConfig

            pipeline(config=MonitoringConfig())
    except RuntimeError as exc:  # a failed step: its own log above says why
        print(f"deepfake-detect run {args.pipeline}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def feedback_main(argv: Sequence[str]) -> int:
    """`review`, `reviews`, `purge-clips`, `forget` (`deepfake_cli.feedback`)."""
    from deepfake_cli.feedback import add_subcommands

    parser = argparse.ArgumentParser(prog="deepfake-detect", description="Reviews and retained clips.")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    _project_env()
    return args.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FEEDBACK_COMMANDS:
        return feedback_main(argv)
    command = argv[0] if argv and argv[0] in COMMANDS else "score"
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    bin_dir = Path(sys.executable).parent
    if command == "score":
        return score_main(rest)
    if command == "import":
        return import_main(rest)
    if command == "serve":  # the BentoML service on 127.0.0.1:3000, as `make serve`
        return _run_tool([str(bin_dir / "bentoml"), "serve", "serving.service:DeepfakeDetection", *rest])
    if command == "monitor":  # drift of the logged requests, as `make monitor`
        return run_main(["monitor", *rest])
    if command == "run":
        return run_main(rest)
    return _run_tool(
        [
            str(bin_dir / "evidently"),
            "ui",
            "--workspace",
            ".cache/evidently",
            "--host",
            "127.0.0.1",
            "--port",
            "8000",
            *rest,
        ]
    )


if __name__ == "__main__":
    sys.exit(main())

"""Build the Bento (`make bento`): the service, its code, the served model and its pinned dependencies.

1. Pins what the service needs to the versions installed in this venv: the project's dependencies
   (pyproject.toml) less those only the pipelines use, and everything they require, recursively, as
   `name==version` in `build/bento/requirements.txt` (git-ignored; `bentofile.yaml` points at it). torch is the
   CPU build, pinned by its wheel's URL on download.pytorch.org (PyPI's Linux torch is the CUDA build).
2. Runs the same build as `bentoml build` in the repository root (`bentofile.yaml`: the code, configs/serving.yaml
   and the model `deepfake-videomae:latest`, recorded in the Bento by its exact version) into `$BENTOML_HOME` and
   prints the Bento tag on the last line.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "build" / "bento" / "requirements.txt"  # bentofile.yaml: python.requirements_txt

# Project dependencies the service never imports: pipelines, data contracts, drift reports, Ray, quantisation,
# the demo data's sources, plots, tables, the test client.
NOT_SERVED = {
    "zenml",
    "great-expectations",
    "evidently",
    "ray",
    "nncf",
    "scikit-video",
    "scikit-image",
    "matplotlib",
    "tabulate",
    "uv",
}  # not `requests`: c2pa-python (the Content Credentials reader) requires it, though this service never fetches
TORCH_CPU_WHEELS = "https://download.pytorch.org/whl/cpu"


def served_dependencies() -> list[Requirement]:
    """The project's dependencies (pyproject.toml) that the service needs."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    return [r for r in requirements if canonicalize_name(r.name) not in NOT_SERVED]


def pinned_closure(roots: list[Requirement]) -> dict[str, str]:
    """Every installed distribution `roots` need, recursively (markers and extras honoured) -> its version."""
    pins: dict[str, str] = {}
    todo = [(r, frozenset(r.extras)) for r in roots]
    seen: set[tuple[str, frozenset]] = set()
    env = default_environment()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise SystemExit(f"{req} is needed by the service but not installed in {sys.prefix}") from exc
        pins[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e}) for e in ("", *extras)):
                todo.append((sub, frozenset(sub.extras)))
    return pins


def torch_wheel_name(version: str) -> str:
    """The installed torch's wheel file name (its WHEEL tag: python, ABI, platform), `+` escaped for a URL."""
    wheel = metadata.distribution("torch").read_text("WHEEL") or ""
    tag = next(line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:"))
    return f"torch-{version.replace('+', '%2B')}-{tag}.whl"


def requirements_text(pins: dict[str, str]) -> str:
    lines = ["# Pinned from the venv that built the Bento by scripts/build_bento.py: do not edit."]
    for name, version in sorted(pins.items()):
        if name == "torch" and version.endswith("+cpu"):
            lines.append(f"torch @ {TORCH_CPU_WHEELS}/{torch_wheel_name(version)}")
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def write_requirements(path: Path = REQUIREMENTS) -> Path:
    pins = pinned_closure(served_dependencies())
    if pins.get("torch", "").split("+")[0] != "2.13.0":  # +cpu: pinned by the CPU wheel's URL; else torch==2.13.0
        raise SystemExit(f"the Bento pins torch 2.13.0; this venv has torch {pins.get('torch')}")
    leaked = {"torchvision", *NOT_SERVED} & set(pins)
    if leaked:
        raise SystemExit(f"served dependencies pull in {sorted(leaked)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(requirements_text(pins))
    tmp.replace(path)  # atomic: a concurrent build reads the old or the new file, never half of one
    return path


def check_models() -> None:
    """Every model bentofile.yaml declares is in the local store (BentoML would look for it on BentoCloud)."""
    import bentoml
    import yaml

    for spec in yaml.safe_load((REPO / "bentofile.yaml").read_text()).get("models", []):
        tag = spec if isinstance(spec, str) else spec["tag"]
        try:
            bentoml.models.get(tag)
        except bentoml.exceptions.NotFound:
            home = os.environ.get("BENTOML_HOME", "~/bentoml")
            raise SystemExit(f"no model {tag} in the BentoML store ({home}); run `make demo` first") from None


def build_bento() -> str:
    """`bentoml build` of the repository (bentofile.yaml) into $BENTOML_HOME; the Bento's tag."""
    write_requirements()
    check_models()
    import bentoml

    bento = bentoml.bentos.build_bentofile(str(REPO / "bentofile.yaml"), build_ctx=str(REPO))
    return str(bento.tag)


def main() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    tag = build_bento()
    if not re.fullmatch(r"[\w.-]+:[\w.-]+", tag):
        raise SystemExit(f"unexpected Bento tag {tag!r}")
    print(f"built; `bentoml serve {tag}` serves it from any folder, `bentoml containerize {tag}` makes an image",
          file=sys.stderr)  # fmt: skip
    print(tag)


if __name__ == "__main__":
    main()

"""The README and the documentation site stay short, linked and true: the README under 1,500 words, every relative
link pointing at a file, every `make X` a real target, every answer field and CLI option documented, and the
MkDocs site building with --strict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
MAX_README_WORDS = 1500

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MAKE = re.compile(r"\bmake((?:[ \t]+[a-z][a-z0-9-]*)+)")
TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*(?:[ \t]+[A-Za-z0-9][A-Za-z0-9_.-]*)*)[ \t]*:(?!=)", re.MULTILINE)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (where brackets are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def relative_links(text: str) -> list[str]:
    targets = [m.group(1) for m in LINK.finditer(prose(text))]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def make_commands(text: str) -> list[str]:
    """Targets of `make ...` in code: code spans and fenced blocks (prose such as "make retries idempotent" is not
    a command)."""
    code = [m.group(0) for m in FENCE.finditer(text)] + [m.group(0) for m in CODE_SPAN.finditer(FENCE.sub("", text))]
    return [target for chunk in code for m in MAKE.finditer(chunk) for target in m.group(1).split()]


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {name for m in TARGET.finditer(text) for name in m.group(1).split()}


def test_readme_is_short():
    words = len(README.read_text().split())  # what `wc -w` counts
    assert words < MAX_README_WORDS, f"README.md has {words} words; move detail into docs/ (limit {MAX_README_WORDS})"


def test_relative_links_point_at_files():
    broken = []
    for page in markdown_files():
        for target in relative_links(page.read_text()):
            path = target.split("#", 1)[0]
            if path and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


def test_link_check_sees_links():
    """The link check above finds the README's links (a broken pattern would pass it vacuously)."""
    links = relative_links(README.read_text())
    assert "docs/getting-started.md" in links and len(links) >= 10
    assert relative_links("see [a](missing.md) and `[b](skipped.md)`") == ["missing.md"]


def test_make_targets_exist():
    targets = makefile_targets()
    assert {"demo", "test", "docs", "serve"} <= targets
    pages = [*markdown_files(), REPO / "benchmarks" / "README.md"]  # the benchmarks page includes that file
    used = {(page, name) for page in pages for name in make_commands(page.read_text())}
    assert len(used) >= 20, "found too few `make X` commands: the pattern is broken"
    unknown = sorted(f"{page.relative_to(REPO)}: make {name}" for page, name in used if name not in targets)
    assert not unknown, "not Makefile targets:\n" + "\n".join(unknown)


def test_make_command_pattern():
    text = (
        "`make demo` and\n```bash\nmake cross-eval CROSS_CONFIG=x\n0 3 * * * make monitor feedback >> log\n```\n"
        "to make retries"
    )
    assert make_commands(text) == ["cross-eval", "monitor", "feedback", "demo"]


def test_every_answer_field_is_documented():
    from deepfake_detection.scoring import answer

    page = (DOCS / "reference" / "http-api.md").read_text()
    models = [answer.Answer, answer.Person, answer.TimelineEntry, answer.PersonCounts, answer.VideoFacts,
              answer.Reason, answer.ErrorAnswer]  # fmt: skip
    missing = [f"{m.__name__}.{name}" for m in models for name in m.model_fields if f"`{name}`" not in page]
    assert not missing, f"answer fields missing from docs/reference/http-api.md: {missing}"


@pytest.mark.parametrize("command", [[], ["import"], ["run"], ["review"], ["reviews"], ["purge-clips"], ["forget"]])
def test_every_cli_option_is_documented(command, capsys):
    from deepfake_cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", capsys.readouterr().out)) - {"--help"}
    page = (DOCS / "reference" / "cli.md").read_text()
    missing = sorted(o for o in options if f"`{o}" not in page)
    assert not missing, f"deepfake-detect {' '.join(command)}: options missing from docs/reference/cli.md: {missing}"


@pytest.mark.slow
def test_site_builds_strict(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    settings = (tmp_path / "site" / "reference" / "settings.html").read_text()
    assert "max_upload_bytes" in settings and "<!-- fields:" not in settings  # the hook's tables are there
    assert "extract_video" in (tmp_path / "site" / "reference" / "api" / "scoring.html").read_text()

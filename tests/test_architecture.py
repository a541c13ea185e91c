"""The structure the code promises (docs/architecture.md): layers, types, lint, and small modules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("server", "realtime", "storage")
MAX_MODULE_LINES = 400
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (Path(ROOT) / package).rglob("*.py"))


def test_the_dependency_rule_holds() -> None:
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.timeout(900)
def test_mypy_strict_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run(sys.executable, "-m", "ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout[-4000:]
    formatting = _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert formatting.returncode == 0, formatting.stdout[-4000:]


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources(*PACKAGES)
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: split them by concept"


def test_mongodb_operators_live_in_storage_only() -> None:
    operator = re.compile(r"""["']\$(set|inc|push|facet|in|or|match|group|unset|setOnInsert)["']""")
    offenders = [str(p.relative_to(ROOT)) for p in _sources("server", "realtime") if operator.search(p.read_text())]
    assert offenders == []


def test_the_core_speaks_no_http() -> None:
    http_shaped = re.compile(r"status_code|HTTPException|starlette|AppError\(\s*[1-5]\d\d")
    offenders = [str(p.relative_to(ROOT)) for p in _sources("server/sessions") if http_shaped.search(p.read_text())]
    assert offenders == []


def test_edges_never_reach_into_repositories() -> None:
    reach = re.compile(r"service\.(_repos|_log|sessions|events|applications|questions|event_log|rate_limits)\b")
    edges = _sources("server/http", "realtime")
    offenders = [str(p.relative_to(ROOT)) for p in edges if reach.search(p.read_text())]
    assert offenders == []

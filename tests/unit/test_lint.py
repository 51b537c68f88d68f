"""The house style's checkers run with the tests: ruff and mypy, configured in pyproject.toml."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing() -> None:
    checked = run(str(Path(sys.executable).with_name("ruff")), "check", "--no-cache", ".")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_finds_nothing() -> None:
    checked = run(sys.executable, "-m", "mypy", "--no-incremental")
    assert checked.returncode == 0, checked.stdout + checked.stderr

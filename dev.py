#!/usr/bin/env python3
"""The project's two entry points for a fresh machine with nothing but Python.

    python3 dev.py demo    # run the stocks pipeline end to end
    python3 dev.py test    # run the test suite (what CI runs)

Both create `.venv/` beside this file on first use and install the project into it (editable), so
no global packages are touched. Extra arguments after `test` go to pytest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
# Reinstall when the dependency list changes, not on every run.
STAMP = VENV / ".installed-pyproject"


def ensure_venv() -> None:
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = (ROOT / "pyproject.toml").read_text()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("installing kafka-tasks and its test dependencies ...", flush=True)
        run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"])
        STAMP.write_text(wanted)


def run(cmd: list[str]) -> None:
    completed = subprocess.run(cmd, cwd=ROOT)
    if completed.returncode:
        sys.exit(completed.returncode)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test"}:
        sys.exit(__doc__)
    ensure_venv()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if argv[0] == "demo":
        cmd = [str(PYTHON), "-m", "streams.cli", "demo", *argv[1:]]
    else:
        cmd = [str(PYTHON), "-m", "pytest", *argv[1:]]
    sys.exit(subprocess.run(cmd, cwd=ROOT, env=env).returncode)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Create (idempotently) the isolated virtualenv that runs the seed engine, statefun-tasks 0.9.93.

    python3 tests/differential/seed/bootstrap.py        # or SEED_VENV=/elsewhere python3 ...

The venv defaults to <repo>/.seed-venv (override with SEED_VENV). It is a test oracle only, never a
dependency of kafka-tasks, so it lives apart from .venv: statefun-tasks needs protobuf<4, which must
not leak into the main environment.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
# apache-flink-statefun 3.3.0 silently drops outgoing messages in-process, hence the exact pin;
# statefun 3.2.0 requires protobuf<4, and 3.20.3 is the newest 3.x (pure-Python on 3.11).
PINS = ["statefun-tasks==0.9.93", "apache-flink-statefun==3.2.0", "protobuf==3.20.3"]
STAMP_NAME = ".seed-installed"


class BootstrapError(RuntimeError):
    pass


def venv_dir() -> Path:
    return Path(os.environ.get("SEED_VENV") or REPO_ROOT / ".seed-venv")


def venv_python(path: Path | None = None) -> Path:
    return (path or venv_dir()) / "bin" / "python"


def is_ready(path: Path | None = None) -> bool:
    path = path or venv_dir()
    stamp = path / STAMP_NAME
    return venv_python(path).exists() and stamp.exists() and stamp.read_text() == "\n".join(PINS)


def _index_reachable() -> bool:
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/statefun-tasks/"
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except Exception:
        return False


def ensure(path: Path | None = None, log=print) -> Path:
    """Return the seed venv's python, creating / completing the venv first if needed."""
    path = path or venv_dir()
    if is_ready(path):
        return venv_python(path)
    path.mkdir(parents=True, exist_ok=True)
    # lock inside the venv dir (already git-ignored), so parallel test workers don't build it twice
    with open(path / ".bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(path):
            return venv_python(path)
        if not venv_python(path).exists():
            log(f"[seed bootstrap] creating virtualenv {path} ...")
            venv.EnvBuilder(with_pip=True).create(path)
        log(f"[seed bootstrap] installing {' '.join(PINS)} ...")
        done = subprocess.run(
            [str(venv_python(path)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
            capture_output=True, text=True)
        if done.returncode:
            hint = ("" if _index_reachable() else
                    " PyPI (or PIP_INDEX_URL) looks unreachable from this machine; the seed engine "
                    "oracle cannot be installed without it.")
            raise BootstrapError(f"pip install of the seed engine failed (exit {done.returncode}).{hint}\n"
                                 f"pip said:\n{done.stderr.strip()[-3000:]}")
        check = subprocess.run([str(venv_python(path)), "-c", "import statefun_tasks, statefun"],
                               capture_output=True, text=True)
        if check.returncode:
            raise BootstrapError(f"seed venv installed but statefun_tasks does not import:\n{check.stderr}")
        (path / STAMP_NAME).write_text("\n".join(PINS))
        log(f"[seed bootstrap] ready: {venv_python(path)}")
    return venv_python(path)


if __name__ == "__main__":
    try:
        ensure()
    except BootstrapError as ex:
        sys.exit(f"error: {ex}")

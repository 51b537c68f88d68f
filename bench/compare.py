"""Kafka Tasks beside Celery + Redis: the same four workloads, in one run, one table.

    .venv/bin/python bench/compare.py [--broker tansu|kafka]

Kafka Tasks: 1 orchestrator + 1 worker process on the local broker (bench/deployment.py).
Celery: a redis-server on loopback (Debian's package; installed with apt-get when missing and
allowed) and a Celery worker with 2 processes, from celery[redis] in a virtualenv of its own
(~/.cache/kafka-tasks/celery-venv, made on first use), running bench/celery_side.py. Equivalent
task code (bench/bench_app.py, bench/celery_tasks.py). Each side runs the four workloads ROUNDS
times (bench/shapes.py), on Apache Kafka after KAFKA_WARM_UP_ROUNDS untimed ones (the same number
on Celery's side); the table sets each figure's median side by side, with its lowest and
highest. If Celery or Redis cannot be installed, it says so and prints Kafka Tasks' figures
alone. Figures only: nothing asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.deployment import deployed  # noqa: E402
from bench.shapes import KAFKA_WARM_UP_ROUNDS, ROUNDS, medians  # noqa: E402
from bench.workloads import measure  # noqa: E402

CELERY_VENV = Path.home() / ".cache" / "kafka-tasks" / "celery-venv"
ROWS = [  # (figure, label, higher is better)
    ("independent_tasks_per_s", "1,000 single-task pipelines (tasks/s)", True),
    ("chain_tasks_per_s", "300 three-step chains (tasks/s)", True),
    ("fan_out_s", "1,000-wide fan-out + fan-in (s)", False),
    ("p50_ms", "round trip p50 (ms)", False),
    ("p99_ms", "round trip p99 (ms)", False),
]


def celery_python() -> Path | str:
    """The Celery venv's python, made on first use; or why there is none."""
    python = CELERY_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {CELERY_VENV} with celery[redis] ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(CELERY_VENV)
    if subprocess.run([python, "-c", "import celery, redis"], capture_output=True).returncode != 0:
        installed = subprocess.run([python, "-m", "pip", "install", "--quiet", "celery[redis]"], capture_output=True, text=True)
        if installed.returncode != 0:
            return "pip could not install celery[redis]: " + installed.stderr.strip()[-300:]
    return python


def redis_server() -> str | None:
    """Why there is no redis-server, or None when there is one."""
    if shutil.which("redis-server"):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing redis-server from Debian's packages ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return None if shutil.which("redis-server") else "no redis-server, and apt-get could not install it"


def celery_figures(warm_up_rounds: int) -> list[dict[str, float]] | str:
    problem = redis_server()
    if problem:
        return problem
    python = celery_python()
    if isinstance(python, str):
        return python
    ran = subprocess.run([python, str(ROOT / "bench" / "celery_side.py"), str(warm_up_rounds)],
                         capture_output=True, text=True, cwd=ROOT)
    if ran.returncode != 0:
        return "the Celery side failed: " + (ran.stderr or ran.stdout).strip()[-500:]
    rounds: list[dict[str, float]] = json.loads(ran.stdout.strip().splitlines()[-1])
    return rounds


def cell(rounds: list[dict[str, float]], key: str) -> str:
    """The median, and the lowest and highest of the rounds: `1324.9 (1107.4-1479.7)`."""
    values = [r[key] for r in rounds]
    digits = 2 if max(values) < 10 else 1  # (the fan-out's seconds)
    return f"{medians(rounds)[key]:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def table(ours: list[dict[str, float]], theirs: list[dict[str, float]] | None) -> str:
    lines = [f"{'workload':40} {'Kafka Tasks':>22} {'Celery+Redis':>22} {'ratio':>7}"]
    for key, label, higher_better in ROWS:
        if theirs is None:
            lines.append(f"{label:40} {cell(ours, key):>22}")
            continue
        a, b = medians(ours)[key], medians(theirs)[key]
        ratio = a / b if higher_better else b / a
        lines.append(f"{label:40} {cell(ours, key):>22} {cell(theirs, key):>22} {ratio:6.2f}x")
    lines.append(f"each: the median of {len(ours)} rounds (lowest-highest)")
    if theirs is not None:
        lines.append("ratio: of the medians, how many times better Kafka Tasks is (above 1: faster)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    warm_up_rounds = KAFKA_WARM_UP_ROUNDS if args.broker == "kafka" else 0
    with deployed(args.broker) as deployment:
        for _ in range(warm_up_rounds):
            measure(deployment.client)
        ours = [measure(deployment.client) for _ in range(ROUNDS)]
    theirs = celery_figures(warm_up_rounds)
    if isinstance(theirs, str):
        print(f"Celery + Redis not measured: {theirs}")
        theirs = None
    print(f"Kafka Tasks on {args.broker} (1 orchestrator + 1 worker) beside Celery 2 worker processes on Redis:")
    print(table(ours, theirs))
    if warm_up_rounds:
        print(f"(each side after {warm_up_rounds} untimed rounds, for the broker's JVM)")


if __name__ == "__main__":
    main()

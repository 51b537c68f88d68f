"""The four workloads of bench/workloads.py on Celery with Redis, for bench/compare.py.

Runs in a virtualenv of its own with celery[redis] (bench/compare.py makes it): starts a
redis-server on loopback and a Celery worker with 2 processes, runs the workloads as many times
untimed as its argument says (none without one), then ROUNDS times, checks the results and
prints each round's figures, as one JSON line.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.shapes import CHAINS, FAN_OUT, INDEPENDENT, ROUND_TRIPS, ROUNDS, percentiles  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def measure(chain: Any, chord: Any, average: Any, inc: Any) -> dict[str, float]:
    """One round of the four workloads on the running worker; results are checked."""
    figures: dict[str, float] = {}
    start = time.perf_counter()
    results = [inc.delay(i) for i in range(INDEPENDENT)]
    assert [r.get(timeout=300) for r in results] == [i + 1 for i in range(INDEPENDENT)]
    figures["independent_tasks_per_s"] = INDEPENDENT / (time.perf_counter() - start)

    start = time.perf_counter()
    results = [chain(inc.s(i), inc.s(), inc.s()).delay() for i in range(CHAINS)]
    assert [r.get(timeout=300) for r in results] == [i + 3 for i in range(CHAINS)]
    figures["chain_tasks_per_s"] = 3 * CHAINS / (time.perf_counter() - start)

    start = time.perf_counter()
    result = chord([inc.s(i) for i in range(FAN_OUT)])(average.s()).get(timeout=300)
    figures["fan_out_s"] = time.perf_counter() - start
    assert result == (FAN_OUT + 1) / 2

    latencies = []
    for i in range(ROUND_TRIPS):
        start = time.perf_counter()
        inc.delay(i).get(timeout=60)
        latencies.append(time.perf_counter() - start)
    figures.update(percentiles(latencies))
    return figures


def main() -> None:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server not found (Debian: apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="celery-bench-"))
    port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(workdir)],
                             stdout=open(workdir / "redis.log", "wb"), stderr=subprocess.STDOUT)
    os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    wait_for_port(port)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "bench.celery_tasks", "worker", "-P", "prefork",
                               "-c", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                              cwd=ROOT, stdout=open(workdir / "worker.log", "wb"), stderr=subprocess.STDOUT)
    try:
        from celery import chain, chord

        from bench.celery_tasks import average, inc

        assert inc.delay(0).get(timeout=120) == 1  # worker up
        for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 0):  # untimed
            measure(chain, chord, average, inc)
        rounds = [measure(chain, chord, average, inc) for _ in range(ROUNDS)]
        print(json.dumps(rounds))
    finally:
        worker.terminate()
        worker.wait(30)
        redis.terminate()
        redis.wait(30)


if __name__ == "__main__":
    main()

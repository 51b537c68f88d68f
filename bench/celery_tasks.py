"""The Celery twins of bench/bench_app.py, for bench/celery_side.py (runs in Celery's own venv)."""
from __future__ import annotations

import os

from celery import Celery

redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench", broker=redis_url, backend=redis_url)


@app.task
def inc(x: int) -> int:
    return x + 1


@app.task
def average(values: list[int]) -> float:
    return sum(values) / len(values)

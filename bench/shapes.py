"""The sizes of issue #5's four workloads and how latencies are summed up: shared by the Kafka
Tasks side (bench/workloads.py) and the Celery side (bench/celery_side.py, which runs in a venv
without Kafka Tasks, hence this module imports nothing of it)."""
from __future__ import annotations

import statistics

INDEPENDENT, CHAINS, FAN_OUT, ROUND_TRIPS = 1000, 300, 1000, 100


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}

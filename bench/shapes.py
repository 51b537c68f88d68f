"""The sizes of issue #5's four workloads and how latencies are summed up: shared by the Kafka
Tasks side (bench/workloads.py) and the Celery side (bench/celery_side.py, which runs in a venv
without Kafka Tasks, hence this module imports nothing of it)."""
from __future__ import annotations

import statistics

INDEPENDENT, CHAINS, FAN_OUT, ROUND_TRIPS = 1000, 300, 1000, 100
# bench/compare.py runs the four workloads this many times on each side and sets the medians side
# by side: one run of workload 1 lasts about a second, and on a 2-core machine running the
# broker, the orchestrator, the worker and the client, one run's tasks/s varied by a quarter.
ROUNDS = 3
# On Apache Kafka, after this many untimed rounds on each side. Its JVM compiles its hot paths
# over the first tens of thousands of records: over 5,000 single-task pipelines at a time, its
# CPU per pipeline went 0.72, 0.71, 0.56, 0.39, 0.37, 0.32 ms (/proc), at first as much as the
# orchestrator's, on the same 2 cores; a broker in production has long been warm. Not on Tansu:
# its in-memory log slows down as it grows (after 5 such rounds, p50 29.9 ms instead of 18-19).
KAFKA_WARM_UP_ROUNDS = 5


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over `rounds` (dicts with the same keys)."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}

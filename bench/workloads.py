"""The four workloads of issue #5, on Kafka Tasks: the same shapes bench/celery_side.py runs on
Celery, so bench/compare.py can set the figures side by side.

1. 1,000 independent single-task pipelines: tasks/s
2. 300 three-step chains: tasks/s
3. a 1,000-wide fan-out with a fan-in average: wall time
4. 100 sequential single-task round trips: p50 and p99 latency
"""
from __future__ import annotations

import time
from typing import Any

from bench.bench_app import average, inc
from bench.shapes import CHAINS, FAN_OUT, INDEPENDENT, ROUND_TRIPS, percentiles
from streams import in_parallel


def measure(client: Any) -> dict[str, float]:
    """Run the four workloads through a connected KafkaTasksClient; results are checked."""
    figures: dict[str, float] = {}
    start = time.perf_counter()
    handles = [client.submit(inc.send(i)) for i in range(INDEPENDENT)]
    assert [h.result(300) for h in handles] == [i + 1 for i in range(INDEPENDENT)]
    figures["independent_tasks_per_s"] = INDEPENDENT / (time.perf_counter() - start)

    start = time.perf_counter()
    handles = [client.submit(inc.send(i).continue_with(inc).continue_with(inc)) for i in range(CHAINS)]
    assert [h.result(300) for h in handles] == [i + 3 for i in range(CHAINS)]
    figures["chain_tasks_per_s"] = 3 * CHAINS / (time.perf_counter() - start)

    start = time.perf_counter()
    result = client.submit(in_parallel([inc.send(i) for i in range(FAN_OUT)]).continue_with(average)).result(300)
    figures["fan_out_s"] = time.perf_counter() - start
    assert result == (FAN_OUT + 1) / 2

    latencies = []
    for i in range(ROUND_TRIPS):
        start = time.perf_counter()
        client.submit(inc.send(i)).result(60)
        latencies.append(time.perf_counter() - start)
    figures.update(percentiles(latencies))
    return figures


def report(figures: dict[str, float]) -> str:
    return "\n".join([
        f"{INDEPENDENT:,} single-task pipelines: {figures['independent_tasks_per_s']:8.0f} tasks/s",
        f"{CHAINS} three-step chains:       {figures['chain_tasks_per_s']:8.0f} tasks/s",
        f"{FAN_OUT:,}-wide fan-out + fan-in: {figures['fan_out_s']:8.2f} s",
        f"single-task round trip:      p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
        f"({ROUND_TRIPS} sequential)",
    ])

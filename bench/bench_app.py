"""Tasks for the runtime benchmark (trivial bodies: the figures measure the engine and Kafka)."""
from __future__ import annotations

from streams import KafkaTasks

tasks = KafkaTasks(app_id="bench")


@tasks.bind()
def inc(x: int) -> int:
    return x + 1


@tasks.bind()
def average(values: list[int]) -> float:
    return sum(values) / len(values)

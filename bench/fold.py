"""Fold throughput for in-process fan-out/fan-in, and the 10,000-wide end-to-end time.

    .venv/bin/python bench/fold.py

Prints events/s of the pure engine (evolve + decide, no task execution) for 1,000- and
10,000-branch `in_parallel` + average, the per-event cost ratio between the two (linear means
about 1.0), and the wall time of `tasks.run(...)` for the 10,000-wide pipeline including task
execution. Figures only: nothing here asserts a time.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.decide import react  # noqa: E402
from events.messages import PipelineSubmitted, TaskRequested, TaskSucceeded  # noqa: E402
from streams import KafkaTasks, in_parallel  # noqa: E402

tasks = KafkaTasks(app_id="bench")


@tasks.bind()
def value(i: int) -> int:
    return i


@tasks.bind()
def average(values: list[int]) -> float:
    return sum(values) / len(values)


def pipeline(width: int):
    return in_parallel([value.send(i) for i in range(width)]).continue_with(average)


def fold_only(width: int) -> tuple[int, float]:
    """Feed the engine synthetic results: measures evolve + decide alone."""
    spec = pipeline(width).to_spec()
    start = time.perf_counter()
    state, commands = react(None, PipelineSubmitted("p", "s", spec), 0.0)
    events = 1
    queue = [c for c in commands if isinstance(c, TaskRequested)]
    while queue:
        request = queue.pop()
        result = TaskSucceeded(request.pipeline_id, request.run, request.uid, request.attempt, 1, None)
        state, commands = react(state, result, 0.0)
        events += 1
        queue.extend(c for c in commands if isinstance(c, TaskRequested))
    elapsed = time.perf_counter() - start
    assert state is not None and state.status.name == "COMPLETED"
    return events, elapsed


def main() -> None:
    print("fold only (evolve + decide), fan-out N then average:")
    per_event = {}
    for width in (1_000, 10_000):
        runs = [fold_only(width) for _ in range(3)]
        events, elapsed = min(runs, key=lambda r: r[1])
        per_event[width] = elapsed / events
        print(f"  N={width:>6,}: {events:>6,} events in {elapsed * 1000:7.1f} ms = {events / elapsed:>9,.0f} events/s")
    print(f"  cost per event at 10,000 / at 1,000: {per_event[10_000] / per_event[1_000]:.2f}x (target <= 1.5x)")

    start = time.perf_counter()
    result = tasks.run(pipeline(10_000))
    elapsed = time.perf_counter() - start
    print(f"tasks.run of a 10,000-wide in_parallel + average, tasks executed: {elapsed:.2f} s (target < 2 s), result {result}")


if __name__ == "__main__":
    main()

"""Concurrency limits (@tasks.bind(concurrency=N), events/limiter.py): at most N runs of a task at
once across every pipeline and worker; the others wait, in order; a cancelled pipeline's permits
come back."""
from __future__ import annotations

import time

import pytest

from streams import in_parallel
from tests.scenarios.catalogue import JOURNAL, guarded, sync_nap


def most_at_once(key: str) -> int:
    running = most = 0
    for line in JOURNAL[key]:
        running += 1 if line == "+" else -1
        most = max(most, running)
    return most


def test_a_group_of_a_limited_task_never_runs_more_than_the_limit(driver, key):
    assert driver.run(in_parallel([guarded.send(key, 0.3) for _ in range(6)])) == ["done"] * 6
    assert len(JOURNAL[key]) == 12
    assert most_at_once(key) == (2 if driver.name == "kafka" else 1)  # in-process runs one at a time


@pytest.mark.kafka
def test_the_limit_holds_across_pipelines(kafka_driver, key):
    ids = [kafka_driver.submit(in_parallel([guarded.send(key, 0.3) for _ in range(3)])) for _ in range(2)]
    assert [kafka_driver.result(i) for i in ids] == [["done"] * 3] * 2
    assert most_at_once(key) == 2


@pytest.mark.kafka
def test_a_cancelled_pipeline_gives_its_permits_back(kafka_driver, key):
    cancelled = kafka_driver.submit(in_parallel([guarded.send(f"{key}-a", 1.0) for _ in range(4)]))
    deadline = time.monotonic() + 30
    while JOURNAL[f"{key}-a"].count("+") < 2:  # two run, two wait
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kafka_driver.cancel(cancelled)
    # Two permits were held and two requests waited: all four are released with the pipeline.
    assert kafka_driver.run(in_parallel([guarded.send(key, 0.1) for _ in range(2)])) == ["done"] * 2
    time.sleep(1.5)
    assert JOURNAL[f"{key}-a"].count("+") == 2  # the waiting two never ran


@pytest.mark.kafka
def test_a_worker_runs_plain_functions_side_by_side(kafka_driver, key):
    # As a Celery worker would with --concurrency: up to worker_concurrency (8) at once.
    assert kafka_driver.run(in_parallel([sync_nap.send(key, 0.5) for _ in range(4)])) == ["rested"] * 4
    assert most_at_once(key) >= 3  # all four, unless one request came a fetch round later

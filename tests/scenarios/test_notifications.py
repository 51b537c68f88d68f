"""Notifications (streams/notifications.py): every task and pipeline transition is an event on the
status topic, and `tasks.on(pattern, callback)` sees them in workers, clients and in-process."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from events.codec import Codec
from events.messages import PipelineStatusChanged, StatusEvents, TaskStatusChanged
from events.status import PipelineStatus
from streams import KafkaTasks, RetryPolicy, TaskError, in_parallel
from streams.notifications import Listeners
from streams.replay import read_topic
from streams.topics import Topics
from tests.scenarios.catalogue import JOURNAL, add, fail, flaky_bound
from tests.scenarios.kafka_driver import Watcher

app = KafkaTasks("notifications")
_calls: dict[str, int] = {}


@app.bind(retry_policy=RetryPolicy(retry_for=[ValueError], max_retries=1, delay=timedelta(0)))
def wobbly(key: str) -> str:
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] == 1:
        raise ValueError("first try fails")
    return "steady"


def undo(key: str, result: str) -> None:
    pass


@app.bind(revert=undo)
def reserve(key: str) -> str:
    return f"reserved {key}"


@app.bind()
def refuse(previous: str) -> None:
    raise RuntimeError("no")


def collect(pattern: str) -> tuple[KafkaTasks, list[Any]]:
    seen: list[Any] = []
    app.listeners = Listeners()
    app.on(pattern, seen.append)
    return app, seen


def task_statuses(seen: list[Any]) -> list[str]:
    return [f"{e.task_status} {e.task_name.rsplit('.', 1)[-1]}" for e in seen if isinstance(e, TaskStatusChanged)]


def test_each_task_transition_reaches_a_task_callback():
    tasks, seen = collect("task.*")
    assert tasks.run(wobbly.send("k1")) == "steady"
    assert task_statuses(seen) == [
        "REQUESTED wobbly", "STARTED wobbly", "FAILED wobbly", "RETRYING wobbly",
        "REQUESTED wobbly", "STARTED wobbly", "SUCCEEDED wobbly",
    ]
    assert seen[2].message == "first try fails" and seen[4].attempt == 1


def test_pipeline_transitions_reach_a_pipeline_callback():
    tasks, seen = collect("pipeline.*")
    tasks.run(wobbly.send("k2"))
    assert [(e.previous.name, e.status.name) for e in seen] == [("PENDING", "RUNNING"), ("RUNNING", "COMPLETED")]
    assert all(isinstance(e, PipelineStatusChanged) for e in seen)


def test_reverts_are_transitions_of_the_task_they_undo():
    tasks, seen = collect("task.revert*")
    with pytest.raises(TaskError):
        tasks.run(reserve.send("k3").continue_with(refuse))
    assert task_statuses(seen) == ["REVERTING reserve", "REVERTED reserve"]


def test_a_pattern_picks_one_status_and_a_failing_callback_breaks_nothing():
    tasks, seen = collect("task.succeeded")
    tasks.on("*", lambda event: 1 / 0)
    assert tasks.run(wobbly.send("k4")) == "steady"
    assert task_statuses(seen) == ["SUCCEEDED wobbly"]


def test_a_bad_pattern_says_which_patterns_exist():
    with pytest.raises(ValueError, match="'task.<status>', 'pipeline.<status>' or '\\*'"):
        KafkaTasks("x").on("tasks.failed", print)


def test_workers_call_back_on_the_tasks_they_run(driver):
    """The catalogue's callback (tasks.on in tests/scenarios/catalogue.py) runs in the worker
    process over Kafka, and here in-process."""
    pipeline = add.send(1, 2).continue_with(fail)
    with pytest.raises(TaskError):
        driver.run(pipeline)
    journal = JOURNAL[f"transitions-{pipeline.id}"]
    assert journal == ["STARTED add", "STARTED fail", "FAILED fail"]


@pytest.mark.kafka
def test_a_client_with_callbacks_sees_every_transition_on_the_status_topic(kafka_driver):
    with Watcher(kafka_driver.settings) as watcher:
        pipeline = flaky_bound.send(f"notify-{time.monotonic_ns()}", 1)
        assert watcher.client.submit(pipeline).result(60).endswith("after 2")
        mine = watcher.wait_until_finished(pipeline.id)
    orchestrated = [s for s in task_statuses(mine) if not s.startswith("STARTED")]
    assert orchestrated == ["REQUESTED flaky_bound", "FAILED flaky_bound", "RETRYING flaky_bound",
                            "REQUESTED flaky_bound", "SUCCEEDED flaky_bound"]
    assert task_statuses(mine).count("STARTED flaky_bound") == 2  # from the worker
    assert [e.status.name for e in mine if isinstance(e, PipelineStatusChanged)] == ["RUNNING", "COMPLETED"]


@pytest.mark.kafka
def test_a_fan_outs_transitions_travel_packed_and_reach_callbacks_one_by_one(kafka_driver):
    """The orchestrator sends the status events of one pipeline that it decides together as one
    StatusEvents record, and the worker the STARTED of the tasks it starts together; a client's
    callbacks get each transition as its own event."""
    width = 40
    with Watcher(kafka_driver.settings) as watcher:
        pipeline = in_parallel([add.send(i, 1) for i in range(width)])
        assert watcher.client.submit(pipeline).result(60) == [i + 1 for i in range(width)]
        watcher.wait_until_finished(pipeline.id)
        watcher.wait_for(lambda seen: sum(isinstance(e, TaskStatusChanged) and e.pipeline_id == pipeline.id for e in seen) == 3 * width)
    by_task: dict[str, list[str]] = {}
    for event in watcher.seen:
        if isinstance(event, TaskStatusChanged) and event.pipeline_id == pipeline.id:
            by_task.setdefault(event.uid, []).append(event.task_status)
    # (Two producers write them, the orchestrator and the worker: STARTED may come before REQUESTED.)
    assert len(by_task) == width and all(sorted(s) == ["REQUESTED", "STARTED", "SUCCEEDED"] for s in by_task.values())
    assert all(statuses.index("REQUESTED") < statuses.index("SUCCEEDED") for statuses in by_task.values())
    codec = Codec()
    packs = [
        event for record in read_topic(kafka_driver.settings, Topics(kafka_driver.settings.app_id).status)
        if record.key == pipeline.id.encode() and isinstance(event := codec.decode(record.value), StatusEvents)
    ]
    # (Packs of STARTED and SUCCEEDED depend on how many tasks start and end together: likely,
    # not certain. tests/unit/test_outbox.py and test_publisher.py pin how they are made.)
    assert sum(isinstance(e, TaskStatusChanged) for pack in packs for e in pack.events) <= 3 * width
    # The submission's decisions: RUNNING, then every REQUESTED, in one record.
    assert any(p.events[0] == PipelineStatusChanged(pipeline.id, 1, PipelineStatus.RUNNING, PipelineStatus.PENDING)
               and [getattr(e, "task_status", None) for e in p.events[1:]] == ["REQUESTED"] * width for p in packs)

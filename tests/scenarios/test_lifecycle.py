"""Statuses, wait/pause/unpause, cancel, re-run."""
from __future__ import annotations

import pytest

from events.messages import child_pipeline_id, request_id
from streams import ActionRejectedError, PipelineStatus, TaskError, in_parallel
from tests.scenarios.catalogue import (
    CALLS,
    add,
    average,
    cleanup,
    fail,
    mark,
    pause_after,
    record,
    slow_child,
)

S = PipelineStatus


def test_status_of_a_completed_pipeline(driver):
    pipeline = add.send(1, 2)
    driver.run(pipeline)
    assert driver.status(pipeline.id) is S.COMPLETED
    assert driver.status_history(pipeline.id) == [S.RUNNING, S.COMPLETED]


def test_status_of_a_failed_pipeline(driver):
    pipeline = fail.send()
    with pytest.raises(TaskError):
        driver.run(pipeline)
    assert driver.status(pipeline.id) is S.FAILED
    assert driver.status_history(pipeline.id) == [S.RUNNING, S.FAILED]


def test_unknown_pipeline_is_pending(driver):
    assert driver.status("no-such-pipeline") is S.PENDING


def test_all_empty_pipeline_completes_without_running(driver):
    pipeline = in_parallel([])
    assert driver.run(pipeline) == []
    assert driver.status_history(pipeline.id) == [S.COMPLETED]


def test_wait_pauses_after_the_step(driver):
    pipeline_id = driver.start(add.send(1, 2).wait().continue_with(add, 10))
    assert driver.status(pipeline_id) is S.PAUSED
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == 13
    assert driver.status_history(pipeline_id) == [S.RUNNING, S.PAUSED, S.RUNNING, S.COMPLETED]


def test_task_can_pause_its_pipeline(driver):
    pipeline_id = driver.start(pause_after.send(5).continue_with(add, 1))
    assert driver.status(pipeline_id) is S.PAUSED
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == 6


def test_wait_inside_a_group_holds_the_continuation(driver, key):
    pipeline = in_parallel([add.send(1, 1).wait(), add.send(2, 2)]).continue_with(mark, key)
    pipeline_id = driver.start(pipeline)
    assert driver.status(pipeline_id) is S.PAUSED
    assert key not in CALLS
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == [2, 4]
    assert CALLS[key] == 1


def test_wait_on_a_group(driver):
    pipeline = in_parallel([add.send(1, 1), add.send(2, 2)]).wait().continue_with(average)
    pipeline_id = driver.start(pipeline)
    assert driver.status(pipeline_id) is S.PAUSED
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == 3.0


def test_pausing_a_paused_pipeline_is_allowed(driver):
    pipeline_id = driver.start(add.send(1, 2).wait().continue_with(add, 1))
    driver.pause(pipeline_id)
    assert driver.status(pipeline_id) is S.PAUSED
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == 4


def test_cancel_runs_the_finally_and_ends_cancelled(driver, key):
    pipeline = add.send(1, 2).wait().continue_with(record, "never").finally_do(cleanup, key)
    pipeline_id = driver.start(pipeline)
    driver.cancel(pipeline_id)
    assert driver.status(pipeline_id) is S.CANCELLED
    assert CALLS[key] == 1
    assert "never" not in CALLS
    with pytest.raises(TaskError) as caught:
        driver.result(pipeline_id)
    assert caught.value.is_cancellation
    assert caught.value.message == "Pipeline was cancelled"
    assert driver.status_history(pipeline_id) == [
        S.RUNNING, S.PAUSED, S.CANCELLING, S.CANCELLED,
    ]


def test_cancel_without_finally(driver):
    pipeline_id = driver.start(add.send(1, 2).wait().continue_with(add, 1))
    driver.cancel(pipeline_id)
    assert driver.status(pipeline_id) is S.CANCELLED
    with pytest.raises(TaskError, match="Pipeline was cancelled"):
        driver.result(pipeline_id)


def test_actions_on_a_finished_pipeline_are_rejected(driver):
    pipeline = add.send(1, 2)
    driver.run(pipeline)
    with pytest.raises(ActionRejectedError, match="not in a state that can be paused"):
        driver.pause(pipeline.id)
    with pytest.raises(ActionRejectedError, match="not in a state that can be cancelled"):
        driver.cancel(pipeline.id)


def test_finished_pipeline_can_be_run_again(driver, key):
    pipeline = record.send(key)
    assert driver.run(pipeline) == key
    assert driver.run(pipeline) == key
    assert CALLS[key] == 2


def test_running_pipeline_cannot_be_resubmitted(driver):
    pipeline = add.send(1, 2).wait().continue_with(add, 1)
    pipeline_id = driver.start(pipeline)
    with pytest.raises(ActionRejectedError, match="must have finished before they can be re-run"):
        driver.start(pipeline)
    driver.unpause(pipeline_id)
    assert driver.result(pipeline_id) == 4


def test_cancel_reaches_a_child_pipeline(driver, key):
    parent = slow_child.send(key)  # its child pauses itself after the first step
    # A child's id derives from the request of the task that returned it (first run, attempt 0).
    child_id = child_pipeline_id(request_id(parent.id, 1, parent.to_spec().entries[0].uid, 0))
    parent_id = driver.submit(parent)
    driver.wait_status(child_id, S.PAUSED)
    assert driver.status(parent_id) is S.RUNNING
    driver.cancel(parent_id)
    assert driver.status(parent_id) is S.CANCELLED
    with pytest.raises(TaskError, match="Pipeline was cancelled"):
        driver.result(parent_id)
    driver.wait_status(child_id, S.CANCELLED)

"""finally_do: always runs last, never changes the outcome unless it fails itself."""
from __future__ import annotations

import pytest

from streams import PipelineDefinitionError, TaskError, in_parallel
from tests.scenarios.catalogue import (
    CALLS,
    CAPTURED,
    add,
    capture,
    capture_state,
    cleanup,
    cleanup_fails,
    echo,
    fail,
    handled,
    increment_state,
)


def test_finally_runs_on_success_and_keeps_the_result(driver, key):
    assert driver.run(add.send(1, 2).finally_do(cleanup, key)) == 3
    assert CALLS[key] == 1


def test_finally_runs_on_failure_and_keeps_the_error(driver, key):
    with pytest.raises(TaskError) as caught:
        driver.run(fail.send().finally_do(cleanup, key))
    assert caught.value.message == "I am supposed to fail"
    assert CALLS[key] == 1


def test_finally_gets_only_its_own_arguments(driver):
    driver.run(echo.send(1, 2).finally_do(capture, "fin", "x", flag=True))
    assert CAPTURED["fin"] == (("x",), {"flag": True})


def test_finally_gets_the_current_state(driver, key):
    pipeline = increment_state.send().finally_do(capture_state, key).with_initial(state=1)
    assert driver.run(pipeline) == 2
    assert CAPTURED[key] == 2


def test_failing_finally_fails_the_pipeline(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(add.send(1, 2).finally_do(cleanup_fails))
    assert caught.value.message == "error in finally"


def test_failing_finally_keeps_the_state(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(increment_state.send().finally_do(cleanup_fails).with_initial(state=1))
    assert caught.value.state == 2


def test_finally_runs_once_when_several_branches_fail(driver, key):
    with pytest.raises(TaskError):
        driver.run(in_parallel([fail.send(), fail.send()]).finally_do(cleanup, key))
    assert CALLS[key] == 1


def test_finally_after_a_handler(driver, key):
    assert driver.run(fail.send().exceptionally(handled, "h").finally_do(cleanup, key)) == "h"
    assert CALLS[key] == 1


def test_finally_must_be_last():
    with pytest.raises(PipelineDefinitionError, match='"finally_do" must be called at the end'):
        add.send(1, 2).finally_do(cleanup, "k").continue_with(add).validate()


def test_only_one_finally():
    with pytest.raises(PipelineDefinitionError, match='Cannot have more than one "finally_do" task'):
        add.send(1, 2).finally_do(cleanup, "a").finally_do(cleanup, "b").validate()


def test_finally_inside_a_group_chain_is_rejected():
    with pytest.raises(PipelineDefinitionError, match='"finally_do" must be called at the end'):
        in_parallel([add.send(1, 2).finally_do(cleanup, "k")]).validate()

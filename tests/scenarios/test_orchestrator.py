"""Orchestrator tasks: tasks that return pipelines (composition, conditions, recursion)."""
from __future__ import annotations

import pytest

from streams import TaskError, in_parallel
from tests.scenarios.catalogue import (
    CALLS,
    add,
    child_with_finally,
    compose,
    count_args,
    count_to,
    describe_error,
    echo,
    empty_fan_out,
    failing_child,
    fan_out,
    inline_child,
    inline_child_with_initial,
    invalid_child,
    isolated_child,
    maybe_double,
    non_fruitful_orchestrator,
    read_state,
)


def test_composition(driver):
    assert driver.run(compose.send(3, 2, 1)) == 5


def test_child_result_flows_into_the_continuation(driver):
    pipeline = echo.send(3, 2, 1).continue_with(compose).continue_with(add, 10)
    assert driver.run(pipeline) == 15


def test_conditional_execution(driver):
    assert driver.run(maybe_double.send(5)) == 5
    assert driver.run(maybe_double.send(20)) == 40


def test_recursion(driver):
    assert driver.run(count_to.send(0, 10)) == 10


def test_child_fan_out(driver):
    assert driver.run(fan_out.send(4)) == [0, 1, 4, 9]


def test_child_returning_an_empty_group(driver):
    assert driver.run(empty_fan_out.send()) == []


def test_orchestrators_inside_a_group(driver):
    assert driver.run(in_parallel([compose.send(3, 2, 1), maybe_double.send(20)])) == [5, 40]


def test_child_failure_fails_the_parent(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(failing_child.send())
    assert (caught.value.exception_type, caught.value.message) == ("builtins.ValueError", "child failed")


def test_child_failure_reaches_the_parents_handler(driver):
    assert driver.run(failing_child.send().exceptionally(describe_error)) == (
        "builtins.ValueError: child failed"
    )


def test_isolated_child_starts_from_its_own_state(driver):
    assert driver.run(isolated_child.send(10)) == 11


def test_isolated_child_leaves_the_parent_with_the_state_its_task_returned(driver):
    pipeline = isolated_child.send(10).continue_with(read_state).with_initial(state="P")
    assert driver.run(pipeline) == "parent state"


def test_inline_child_inherits_and_returns_state(driver):
    pipeline = inline_child.send().continue_with(read_state).with_initial(state=100)
    assert driver.run(pipeline) == 101


def test_inline_child_with_its_own_initial_state(driver):
    pipeline = inline_child_with_initial.send(2).continue_with(read_state).with_initial(state=100)
    assert driver.run(pipeline) == 3


def test_invalid_child_fails_the_orchestrating_task(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(invalid_child.send())
    assert "returned an invalid pipeline" in caught.value.message
    assert '"finally_do" must be called at the end of the pipeline' in caught.value.message


def test_non_fruitful_orchestrator_drops_the_child_result(driver):
    assert driver.run(non_fruitful_orchestrator.send().continue_with(count_args)) == 0


def test_child_finally_runs(driver, key):
    assert driver.run(child_with_finally.send(key)) == 3
    assert CALLS[key] == 1

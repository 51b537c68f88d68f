"""with_state tasks, initial state, context."""
from __future__ import annotations

from streams import in_parallel
from tests.scenarios.catalogue import (
    add,
    context_and_state,
    fail_with_state,
    increment_state,
    read_state,
    set_state,
    state_only,
    whoami,
)


def test_initial_state_reaches_the_task(driver):
    assert driver.run(read_state.send().with_initial(state={"a": 1})) == {"a": 1}


def test_state_is_none_without_initial_state(driver):
    assert driver.run(read_state.send()) is None


def test_state_set_by_one_task_is_read_by_a_later_one(driver):
    pipeline = set_state.send(value=5).continue_with(add, 1, 2).continue_with(read_state)
    assert driver.run(pipeline) == 5  # add does not touch the state; it passes through


def test_state_accumulates_across_steps(driver):
    # increment_state returns (state + 1, state + 1): the new state and a result that the next
    # with_state step would not accept, so a non-fruitful read in between drops it.
    pipeline = (
        increment_state.send()
        .continue_with(read_state)
        .continue_with(set_state, value=10)
        .continue_with(read_state)
        .with_initial(state=0)
    )
    # read_state(1, 1) -> state 1, result 1; set_state(1, 1, value=10) -> state 10.
    assert driver.run(pipeline) == 10
    assert driver.run(increment_state.send().with_initial(state=0)) == 1


def test_single_value_from_a_with_state_task_is_the_state(driver):
    pipeline = state_only.send().continue_with(read_state)
    assert driver.run(pipeline) == "only state"
    assert driver.run(state_only.send()) == ()


def test_failed_task_keeps_the_state_it_was_given(driver):
    pipeline = (
        increment_state.send()
        .continue_with(fail_with_state)
        .exceptionally(read_state)
        .with_initial(state=1)
    )
    # increment_state returns (2, 2): state 2, result 2; fail_with_state(2, 2) fails with state 2.
    assert driver.run(pipeline) == 2


def test_state_reaches_parallel_branches_and_continues_after(driver):
    pipeline = (
        set_state.send(value={"x": 1})
        .continue_with(in_parallel([read_state.send(), read_state.send()]))
        .continue_with(read_state)
    )
    assert driver.run(pipeline) == {"x": 1}


def test_context_describes_the_task(driver):
    pipeline = whoami.send()
    result = driver.run(pipeline)
    assert result == {
        "task": "tests.scenarios.catalogue.whoami",
        "pipeline": pipeline.id,
        "root": pipeline.id,
        "attempt": 0,
    }


def test_context_comes_before_state(driver):
    pipeline = context_and_state.send("v").with_initial(state="S")
    assert driver.run(pipeline) == "context_and_state:S:v"

"""exceptionally: error handlers anywhere in a pipeline."""
from __future__ import annotations

import pytest

from streams import TaskError, in_parallel
from tests.scenarios.catalogue import (
    CALLS,
    add,
    describe_error,
    echo,
    fail,
    fail_custom,
    handled,
    read_state,
    record,
    rethrow,
)


def test_handler_receives_the_task_exception(driver):
    assert driver.run(fail.send().exceptionally(describe_error)) == (
        "builtins.ValueError: I am supposed to fail"
    )


def test_success_skips_the_handler(driver):
    assert driver.run(echo.send(1).exceptionally(describe_error).continue_with(add, 1)) == 2


def test_failure_skips_normal_steps_up_to_the_handler(driver, key):
    pipeline = fail.send().continue_with(record, key).continue_with(record, key).exceptionally(handled)
    assert driver.run(pipeline) == "handled"
    assert key not in CALLS


def test_failure_skips_whole_groups(driver, key):
    pipeline = fail.send().continue_with(in_parallel([record.send(key)])).exceptionally(handled)
    assert driver.run(pipeline) == "handled"
    assert key not in CALLS


def test_handler_result_flows_on(driver):
    assert driver.run(fail.send().exceptionally(handled, 5).continue_with(add, 1)) == 6


def test_bound_args_follow_the_exception(driver):
    assert driver.run(fail.send().exceptionally(handled, value="bound")) == "bound"


def test_raising_handler_passes_to_the_next_handler(driver):
    pipeline = fail.send().exceptionally(rethrow).exceptionally(describe_error)
    assert driver.run(pipeline) == "builtins.RuntimeError: rethrown I am supposed to fail"


def test_later_handlers_are_skipped_once_handled(driver):
    assert driver.run(fail.send().exceptionally(handled, "x").exceptionally(handled, "y")) == "x"


def test_chained_handlers_with_continuations(driver):
    pipeline = (
        fail.send(message="first")
        .exceptionally(handled, 1)
        .continue_with(fail, message="second")
        .exceptionally(describe_error)
    )
    assert driver.run(pipeline) == "builtins.ValueError: second"


def test_handler_that_raises_without_a_next_handler_fails_the_pipeline(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(fail.send().exceptionally(rethrow))
    assert caught.value.exception_type == "builtins.RuntimeError"
    assert caught.value.message == "rethrown I am supposed to fail"


def test_handlers_inside_a_group_chain_handle_locally(driver):
    failing = (
        echo.send("a")
        .continue_with(fail)
        .exceptionally(describe_error)
        .exceptionally(rethrow)
        .exceptionally(describe_error)
    )
    pipeline = in_parallel([failing, echo.send("b")])
    assert driver.run(pipeline) == ["builtins.ValueError: I am supposed to fail", "b"]


def test_handler_after_a_group_gets_the_aggregated_error(driver):
    pipeline = in_parallel([fail.send(message="m1"), fail.send(message="m2")]).exceptionally(
        describe_error
    )
    result = driver.run(pipeline)
    assert result.startswith("kafka_tasks.AggregatedError: ")
    assert result.index("m1") < result.index("m2")


def test_empty_group_between_failure_and_handler_is_skipped(driver):
    pipeline = fail.send().continue_with(in_parallel([])).exceptionally(describe_error)
    assert driver.run(pipeline) == "builtins.ValueError: I am supposed to fail"


def test_handler_gets_the_failed_tasks_input_state(driver):
    pipeline = fail.send().exceptionally(read_state).with_initial(state="S")
    assert driver.run(pipeline) == "S"


def test_handler_as_first_entry_is_skipped(driver):
    pipeline = echo.send(1)
    assert driver.run(pipeline.exceptionally(handled).exceptionally(handled)) == 1


def test_unhandled_failure_reports_the_original_exception(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(fail_custom.send())
    error = caught.value
    assert error.exception_type == "tests.scenarios.catalogue.CustomError"
    assert error.message == "custom"
    assert "fail_custom" in error.stacktrace
    assert str(error) == "tests.scenarios.catalogue.CustomError: custom"


def test_failure_stops_the_pipeline_at_the_first_failing_step(driver, key):
    with pytest.raises(TaskError):
        driver.run(echo.send(1).continue_with(fail).continue_with(record, key))
    assert key not in CALLS

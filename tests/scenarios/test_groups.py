"""in_parallel: fan-out and fan-in, nesting, empty groups, errors, state, limits and stages."""
from __future__ import annotations

import pytest

from streams import TaskError, TaskException, in_parallel
from tests.scenarios.catalogue import (
    CALLS,
    add,
    average,
    count_args,
    echo,
    fail,
    join,
    merge_state,
    multiply,
    read_state,
    record,
    set_state,
)


def test_fan_out(driver):
    assert driver.run(in_parallel([multiply.send(i, 2) for i in range(5)])) == [0, 2, 4, 6, 8]


def test_fan_out_fan_in(driver):
    pipeline = in_parallel([multiply.send(i, 2) for i in range(5)]).continue_with(average)
    assert driver.run(pipeline) == 4.0


def test_results_follow_declaration_order_not_completion_order(driver):
    slow = add.send(1, 1).continue_with(add).continue_with(add)  # three steps: finishes last
    assert driver.run(in_parallel([slow, multiply.send(3, 3)])) == [4, 9]


def test_nested_groups(driver):
    pipeline = in_parallel([in_parallel([echo.send(1), echo.send(2)]), echo.send(3)])
    assert driver.run(pipeline) == [[1, 2], 3]


def test_groups_of_groups(driver):
    pipeline = in_parallel([in_parallel([echo.send(i), echo.send(i + 1)]) for i in (0, 10, 20)])
    assert driver.run(pipeline) == [[0, 1], [10, 11], [20, 21]]


def test_chain_ending_in_a_group_contributes_a_list(driver):
    chain = echo.send(1).continue_with(in_parallel([add.send(1), add.send(2)]))
    assert driver.run(in_parallel([chain])) == [[2, 3]]


def test_previous_result_goes_to_the_first_task_of_every_chain(driver):
    pipeline = echo.send("x").continue_with(
        in_parallel([join.send("a"), join.send("b").continue_with(join, "c")])
    )
    assert driver.run(pipeline) == ["x-a", "x-b-c"]


def test_group_then_continuation_then_group(driver):
    pipeline = (
        in_parallel([add.send(1, 1), add.send(2, 2)])
        .continue_with(average)
        .continue_with(in_parallel([multiply.send(2), multiply.send(3)]))
        .continue_with(average)
    )
    assert driver.run(pipeline) == 7.5


def test_empty_group_gives_an_empty_list(driver):
    assert driver.run(in_parallel([])) == []


def test_continuation_after_empty_group_gets_an_empty_list(driver):
    assert driver.run(in_parallel([]).continue_with(count_args)) == 1
    pipeline = echo.send("1").continue_with(in_parallel([])).continue_with(echo, "2")
    assert driver.run(pipeline) == ([], "2")


def test_nested_empty_groups_collapse(driver):
    assert driver.run(in_parallel([in_parallel([])])) == []
    assert driver.run(in_parallel([in_parallel([]), echo.send("a")])) == [[], "a"]


def test_leading_empty_group_replaces_the_initial_args(driver):
    pipeline = in_parallel([]).continue_with(echo, "x").with_initial(args="init")
    assert driver.run(pipeline) == ([], "x")


def test_failing_branch_fails_the_group_after_the_others_finish(driver, key):
    pipeline = in_parallel([record.send(key), fail.send(), record.send(key)])
    with pytest.raises(TaskError) as caught:
        driver.run(pipeline)
    assert caught.value.exception_type == "kafka_tasks.AggregatedError"
    assert caught.value.message.endswith(", builtins.ValueError, I am supposed to fail")
    assert CALLS[key] == 2


def test_aggregated_error_lists_every_failure_in_group_order(driver):
    pipeline = in_parallel([fail.send(message="m1"), echo.send(1), fail.send(message="m2")])
    with pytest.raises(TaskError) as caught:
        driver.run(pipeline)
    parts = caught.value.message.split("|")
    assert len(parts) == 2
    assert parts[0].endswith("builtins.ValueError, m1")
    assert parts[1].endswith("builtins.ValueError, m2")


def test_continuation_after_a_failed_group_does_not_run(driver, key):
    with pytest.raises(TaskError):
        driver.run(in_parallel([fail.send()]).continue_with(record, key))
    assert key not in CALLS


def test_return_exceptions_puts_errors_in_place(driver):
    result = driver.run(in_parallel([echo.send(1), fail.send(message="m")], return_exceptions=True))
    assert result[0] == 1
    assert isinstance(result[1], TaskException)
    assert (result[1].exception_type, result[1].exception_message) == ("builtins.ValueError", "m")


def test_return_exceptions_group_succeeds_so_exceptionally_is_skipped(driver):
    pipeline = (
        in_parallel([fail.send()], return_exceptions=True)
        .exceptionally(echo, "handled")
        .continue_with(count_args)
    )
    assert driver.run(pipeline) == 1


def test_failure_inside_a_nested_group_fails_the_outer_group(driver):
    pipeline = in_parallel([echo.send(1), in_parallel([echo.send(2), fail.send(message="deep")])])
    with pytest.raises(TaskError) as caught:
        driver.run(pipeline)
    assert caught.value.exception_type == "kafka_tasks.AggregatedError"
    assert "deep" in caught.value.message


def test_dict_states_of_branches_merge_with_the_earliest_branch_winning(driver):
    pipeline = (
        in_parallel(
            [
                merge_state.send(key="a", value=1),
                merge_state.send(key="b", value=2),
                merge_state.send(key="a", value=3),
            ]
        )
        .continue_with(read_state)
        .with_initial(state={})
    )
    assert driver.run(pipeline) == {"a": 1, "b": 2}


def test_non_dict_states_take_the_first_branch(driver):
    pipeline = (
        in_parallel([set_state.send(value="x"), set_state.send(value="y")])
        .continue_with(read_state)
        .with_initial(state="initial")
    )
    assert driver.run(pipeline) == "x"


def test_branches_start_from_the_same_state(driver):
    pipeline = in_parallel([read_state.send(), read_state.send()]).with_initial(state={"s": 1})
    assert driver.run(pipeline) == [{"s": 1}, {"s": 1}]


def test_max_parallelism_gives_the_same_result(driver):
    pipeline = in_parallel([multiply.send(i, 2) for i in range(7)], max_parallelism=2)
    assert driver.run(pipeline) == [0, 2, 4, 6, 8, 10, 12]


def test_max_parallelism_with_failures_still_releases_deferred_chains(driver, key):
    pipeline = in_parallel(
        [fail.send(), record.send(key), fail.send(), record.send(key)], max_parallelism=1
    )
    with pytest.raises(TaskError):
        driver.run(pipeline)
    assert CALLS[key] == 2


@pytest.mark.parametrize("stages", [2, 3, 5, 10])
def test_num_stages_keeps_shape_and_order(driver, stages):
    pipeline = in_parallel([multiply.send(i, 2) for i in range(5)], num_stages=stages)
    assert driver.run(pipeline) == [0, 2, 4, 6, 8]


def test_num_stages_with_max_parallelism(driver):
    pipeline = in_parallel([add.send(i, 1) for i in range(9)], num_stages=3, max_parallelism=2)
    assert driver.run(pipeline.continue_with(average)) == 5.0


def test_num_stages_with_nested_groups(driver):
    pipeline = in_parallel([in_parallel([echo.send(i)]) for i in range(4)], num_stages=2)
    assert driver.run(pipeline) == [[0], [1], [2], [3]]


def test_num_stages_stages_receive_the_previous_result(driver):
    pipeline = echo.send(10).continue_with(
        in_parallel([add.send(i) for i in range(4)], num_stages=2)
    )
    assert driver.run(pipeline) == [10, 11, 12, 13]


def test_num_stages_failure_is_reported(driver):
    pipeline = in_parallel([echo.send(1), fail.send(message="staged"), echo.send(3)], num_stages=2)
    with pytest.raises(TaskError) as caught:
        driver.run(pipeline)
    assert "staged" in caught.value.message


def test_wide_fan_out(driver):
    pipeline = in_parallel([add.send(i, 0) for i in range(1000)]).continue_with(average)
    assert driver.run(pipeline) == 499.5


def test_nested_group_failures_are_listed_flat(driver):
    pipeline = in_parallel(
        [in_parallel([fail.send(message="m1"), fail.send(message="m2")]), fail.send(message="m3")]
    )
    with pytest.raises(TaskError) as caught:
        driver.run(pipeline)
    parts = caught.value.message.split("|")
    assert [p.rsplit(", ", 2)[1:] for p in parts] == [
        ["builtins.ValueError", "m1"],
        ["builtins.ValueError", "m2"],
        ["builtins.ValueError", "m3"],
    ]

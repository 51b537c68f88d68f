"""Sub-flows with TaskFlow's retry strategies: Times, ForEach, ParameterizedForEach. Each failed
attempt is reverted before the next; when all fail, the step fails with the last error."""
from __future__ import annotations

import pytest

from streams import ForEach, ParameterizedForEach, TaskError, Times, graph, subflow
from tests.scenarios.catalogue import JOURNAL, all_down, book, connect, echo, hosts_of, pay


def booking(key: str, failures: int):
    return book.send(key, "hotel").continue_with(pay, key, failures)


def test_times_runs_the_sub_flow_again_after_reverting_the_failed_attempt(driver, key):
    assert driver.run(subflow(booking(key, 2), Times(3))) == "paid on attempt 3"
    assert JOURNAL[key] == [
        "book hotel", "pay #1", "cancel hotel-booking",
        "book hotel", "pay #2", "cancel hotel-booking",
        "book hotel", "pay #3",
    ]


def test_times_exhausted_fails_with_the_last_attempt_s_error(driver, key):
    with pytest.raises(TaskError) as failure:
        driver.run(subflow(booking(key, 5), Times(2)))
    assert failure.value.message == "declined #2"
    assert JOURNAL[key].count("cancel hotel-booking") == 2


def test_times_can_provide_the_attempt_number(driver):
    flow = echo.send({"region": "eu"}).continue_with(subflow(echo.send(), Times(1, provides="attempt")))
    assert driver.run(flow) == {"region": "eu", "attempt": 1}


def test_for_each_tries_each_value_until_one_succeeds(driver):
    assert driver.run(subflow(connect.send(), ForEach(["down-a", "down-b", "c"]))) == "connected to c"


def test_for_each_feeds_a_graph_by_name(driver):
    flow = subflow(graph([connect], expects=["host"]), ForEach(["down-a", "b"], provides="host"))
    assert driver.run(flow)["host"] == "b"


def test_for_each_exhausted_fails_with_the_last_error(driver):
    with pytest.raises(TaskError, match="down-b is down"):
        driver.run(subflow(connect.send(), ForEach(["down-a", "down-b"])))


def test_parameterized_for_each_takes_its_values_from_the_previous_result(driver):
    flow = hosts_of.send("eu").continue_with(subflow(connect.send(), ParameterizedForEach("hosts")))
    assert driver.run(flow) == "connected to eu-2"


def test_parameterized_for_each_takes_its_values_from_a_task(driver):
    flow = hosts_of.send("eu").continue_with(subflow(connect.send(), ParameterizedForEach(all_down)))
    with pytest.raises(TaskError, match="all 2 values were tried"):
        driver.run(flow)


def test_a_missing_value_list_says_what_to_return(driver):
    flow = echo.send({"servers": []}).continue_with(subflow(connect.send(), ParameterizedForEach("hosts")))
    with pytest.raises(TaskError, match="has no 'hosts'"):
        driver.run(flow)


def test_the_attempts_can_be_started_by_named_workers():
    step = subflow(connect.send(), Times(2), worker_name="gpu").to_spec().entries[0]
    assert step.worker_name == "gpu"
    assert subflow(connect.send(), Times(2)).to_spec().entries[0].worker_name is None  # the default workers

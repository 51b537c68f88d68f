"""Chains: how one step's result becomes the next step's arguments."""
from __future__ import annotations

import numpy as np
import pytest

from streams import KafkaTasks, TaskError, in_parallel
from tests.scenarios.catalogue import (
    CAPTURED,
    add,
    agenerate,
    as_list,
    async_add,
    capture,
    count_args,
    echo,
    generate,
    hello,
    join,
    kwargs_of,
    multiply,
    noop,
    numpy_array,
    numpy_std,
    pair,
    point,
    unsendable,
)


def test_single_task(driver):
    assert driver.run(multiply.send(3, 2)) == 6


def test_previous_result_goes_before_bound_args(driver):
    assert driver.run(multiply.send(3, 2).continue_with(add, 1)) == 7
    assert driver.run(join.send(1).continue_with(join, 2, 3)) == "1-2-3"


def test_continuation_without_args_gets_the_result_alone(driver):
    assert driver.run(multiply.send(3, 2).continue_with(add)) == 7  # add(6, b=1)


def test_tuple_result_is_spread(driver):
    assert driver.run(pair.send(1, 2).continue_with(add)) == 3
    assert driver.run(pair.send(1, 2).continue_with(join, 3)) == "1-2-3"


def test_list_result_stays_one_argument(driver):
    assert driver.run(as_list.send(1, 2, 3).continue_with(count_args)) == 1


def test_one_tuple_is_unwrapped(driver):
    assert driver.run(echo.send(5)) == 5
    assert driver.run(echo.send(5).continue_with(count_args)) == 1


def test_several_values_stay_a_tuple(driver):
    assert driver.run(echo.send(1, 2)) == (1, 2)


def test_empty_tuple_passes_nothing(driver):
    assert driver.run(echo.send()) == ()
    assert driver.run(echo.send().continue_with(count_args)) == 0


def test_non_fruitful_step_contributes_nothing(driver):
    assert driver.run(noop.send(1)) == ()
    assert driver.run(noop.send(1).continue_with(count_args)) == 0
    assert driver.run(noop.send(1).continue_with(join, "a", "b")) == "a-b"


def test_kwargs_are_passed(driver):
    assert driver.run(join.send(1, 2, sep="+")) == "1+2"
    assert driver.run(join.send(1).continue_with(join, 2, sep="/")) == "1/2"
    assert driver.run(kwargs_of.send(b=2, a=1)) == {"a": 1, "b": 2}


def test_parameters_by_name(driver):
    assert driver.run(hello.send(last_name="Smith", first_name="John")) == "Hello John Smith"


def test_named_parameter_takes_precedence_over_position(driver):
    # first_name comes by name, so the previous result fills last_name.
    assert driver.run(echo.send("Smith").continue_with(hello, first_name="John")) == "Hello John Smith"


def test_initial_args(driver):
    pipeline = hello.send(last_name="Smith").with_initial(args="John")
    assert driver.run(pipeline) == "Hello John Smith"


def test_initial_args_tuple_is_spread(driver):
    assert driver.run(hello.send().with_initial(args=("John", "Smith"))) == "Hello John Smith"


def test_initial_kwargs(driver):
    pipeline = hello.send("John", "Smith").with_initial(kwargs={"title": "Sir"})
    assert driver.run(pipeline) == "Hello Sir John Smith"


def test_kwargs_bound_on_the_task_beat_initial_kwargs(driver):
    pipeline = hello.send("John", "Smith", title="Mr").with_initial(kwargs={"title": "Sir"})
    assert driver.run(pipeline) == "Hello Mr John Smith"


def test_initial_args_reach_every_first_task_of_a_group(driver):
    pipeline = in_parallel([add.send(1), add.send(2)]).with_initial(args=10)
    assert driver.run(pipeline) == [11, 12]


def test_initial_args_come_before_bound_args(driver):
    driver.run(capture.send("bound").with_initial(args="init"))
    assert CAPTURED["init"] == (("bound",), {})


def test_initial_args_only_reach_the_first_step(driver):
    driver.run(echo.send().continue_with(capture).with_initial(args=("k", "v")))
    assert CAPTURED["k"] == (("v",), {})


def test_named_tuple_result_travels_as_a_tuple(driver):
    # Returned, a NamedTuple is one value (not a (state, result) split, not unwrapped); on the
    # wire it is a tuple, so the next step receives its fields spread, on every driver.
    assert driver.run(point.send(1, 2)) == (1, 2)
    assert driver.run(point.send(1, 2).continue_with(count_args)) == 2


def test_async_task(driver):
    assert driver.run(async_add.send(1, 2).continue_with(async_add, 3)) == 6


def test_generators_become_lists(driver):
    assert driver.run(generate.send(3)) == [0, 1, 2]
    assert driver.run(agenerate.send(3)) == [0, 1, 2]


def test_continue_with_a_pipeline_appends_its_steps(driver):
    tail = add.send(1).continue_with(multiply, 10)
    assert driver.run(multiply.send(2, 3).continue_with(tail)) == 70


def test_continue_if_is_decided_when_building(driver):
    assert driver.run(multiply.send(2, 3).continue_if(False, add, 1)) == 6
    assert driver.run(multiply.send(2, 3).continue_if(True, add, 1)) == 7


def test_long_chain(driver):
    pipeline = add.send(0)
    for _ in range(199):
        pipeline.continue_with(add)
    assert driver.run(pipeline) == 200


def test_too_many_args(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(multiply.send(1, 2).continue_with(multiply, 3, 4))
    assert caught.value.exception_type == "builtins.ValueError"
    assert caught.value.message.startswith("Too many args supplied")


def test_not_enough_args(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(multiply.send(1))
    assert caught.value.exception_type == "builtins.ValueError"
    assert caught.value.message.startswith("Not enough args supplied")
    assert "multiply(a: 'float', b: 'float')" in caught.value.message


def test_numpy_values(driver):
    result = driver.run(numpy_std.send([1.0, 2.0, 3.0, 4.0]))
    assert result == pytest.approx(1.118033988749895)
    array = driver.run(numpy_array.send(3))
    assert array.dtype == np.float32
    assert array.tolist() == [0.0, 1.0, 2.0]


def test_a_result_avro_cannot_carry_fails_the_task(driver):
    with pytest.raises(TaskError) as caught:
        driver.run(unsendable.send())
    assert caught.value.exception_type == "events.errors.UnsupportedValueError"
    assert "the result of task tests.scenarios.catalogue.unsendable is a builtins.object" in (
        caught.value.message
    )


def test_unknown_task_fails_with_a_clear_error(driver):
    other = KafkaTasks(app_id="other")

    @other.bind()
    def ghost() -> int:
        return 1

    with pytest.raises(TaskError) as caught:
        driver.run(ghost.send())
    assert caught.value.exception_type == "events.errors.UnknownTaskError"
    assert "is not a registered task of app 'scenarios'" in caught.value.message
    assert "import the module" in caught.value.message

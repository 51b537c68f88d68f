"""Bad builder use and values Avro cannot carry fail early, with errors that say what to do."""
from __future__ import annotations

import numpy as np
import pytest

from streams import (
    KafkaTasks,
    PipelineBuilder,
    PipelineDefinitionError,
    UnsupportedValueError,
    in_parallel,
)
from tests.scenarios.catalogue import add, cleanup, echo, multiply, tasks


def test_bound_task_stays_a_plain_callable():
    assert multiply(3, 2) == 6


def test_bind_without_parentheses():
    app = KafkaTasks(app_id="plain")

    @app.bind
    def double(x: int) -> int:
        return 2 * x

    assert double(2) == 4
    assert app.run(double.send(4)) == 8


def test_empty_pipeline_is_rejected():
    with pytest.raises(PipelineDefinitionError, match="the pipeline is empty"):
        tasks.run(PipelineBuilder())


def test_sending_a_plain_function_says_to_bind_it():
    with pytest.raises(PipelineDefinitionError, match=r"decorate it with @tasks.bind\(\)"):
        PipelineBuilder().send(len)
    with pytest.raises(PipelineDefinitionError, match="not a Kafka Tasks task"):
        add.send(1).continue_with(print)


def test_in_parallel_takes_pipelines():
    with pytest.raises(PipelineDefinitionError, match=r"write task.send\(...\) rather than task\(...\)"):
        in_parallel([add(1, 2)])


def test_set_applies_to_a_task():
    with pytest.raises(PipelineDefinitionError, match="set\\(\\) must be applied to a task"):
        in_parallel([add.send(1)]).set(display_name="x")


def test_wait_needs_an_entry():
    with pytest.raises(PipelineDefinitionError, match="not an empty pipeline"):
        PipelineBuilder().wait()


def test_initial_parameters_cannot_be_merged_in():
    inner = echo.send().with_initial(args=1)
    with pytest.raises(PipelineDefinitionError, match="Ambiguous initial parameters"):
        add.send(1).continue_with(inner)
    with pytest.raises(PipelineDefinitionError, match="Ambiguous initial parameters"):
        in_parallel([inner])


def test_max_parallelism_must_be_positive():
    with pytest.raises(PipelineDefinitionError, match="must be 1 or more"):
        in_parallel([add.send(1)], max_parallelism=0)


def test_finally_must_be_the_last_step():
    with pytest.raises(PipelineDefinitionError, match="Invalid pipeline: \"finally_do\" must be"):
        tasks.run(add.send(1).finally_do(cleanup, "k").continue_with(add))


def test_continue_with_a_pipeline_takes_no_extra_args():
    with pytest.raises(PipelineDefinitionError, match="takes no extra arguments"):
        add.send(1).continue_with(add.send(2), 3)


@pytest.mark.parametrize(
    "value, fragment",
    [
        (object(), "argument 0 of task tests.scenarios.catalogue.echo is a builtins.object"),
        ({1, 2}, "is a builtins.set"),
        (2**70, "an int outside 64 bits"),
        ({1: "a"}, "key 1"),
        ([1, [2, object()]], "argument 0 of task tests.scenarios.catalogue.echo[1][1]"),
        (np.array([object()]), "a numpy object array"),
    ],
)
def test_values_avro_cannot_carry_fail_at_send(value, fragment):
    with pytest.raises(UnsupportedValueError) as caught:
        echo.send(value)
    assert fragment in str(caught.value)
    assert "convert the object to one of those first" in str(caught.value)


def test_keyword_argument_is_named():
    with pytest.raises(UnsupportedValueError, match="argument 'when' of task"):
        echo.send(when=object())


def test_initial_values_are_checked():
    with pytest.raises(UnsupportedValueError, match=r"with_initial\(state=...\)"):
        echo.send().with_initial(state=object())


def test_app_id_must_name_topics():
    with pytest.raises(ValueError, match="it names Kafka topics"):
        KafkaTasks(app_id="no spaces")

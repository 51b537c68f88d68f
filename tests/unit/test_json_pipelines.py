"""Pipelines described as JSON (streams/json_pipelines.py), as the REST API takes them: each kind of
step builds what the Python builder would, and each malformed body is refused naming where."""
from __future__ import annotations

import pytest

from events.decide import react
from events.errors import PipelineDefinitionError, UnsupportedValueError
from events.messages import PipelineSubmitted, TaskRequested, TaskSucceeded
from events.spec import BUILTIN_FLATTEN, GroupEntry, TaskEntry
from streams import KafkaTasks, RetryPolicy
from streams.json_pipelines import pipeline_from_json

app = KafkaTasks(app_id="t")


@app.bind(module_name="demo", worker_name="gpu", retry_policy=RetryPolicy(max_retries=3))
def load(x):
    return x


@app.bind(module_name="demo")
def total(values):
    return sum(values)


def entries(body, tasks=None):
    return pipeline_from_json(body, tasks).to_spec().entries


def refused(body, tasks=None, error=PipelineDefinitionError) -> str:
    with pytest.raises(error) as raised:
        pipeline_from_json(body, tasks)
    return str(raised.value)


def test_a_task_step_becomes_one_task_with_its_arguments():
    [task] = entries({"task": "demo.load", "args": [1, "a", [2.5, None]], "kwargs": {"days": 5}})
    assert isinstance(task, TaskEntry)
    assert (task.task_name, task.args, task.kwargs) == ("demo.load", (1, "a", [2.5, None]), {"days": 5})


def test_a_chain_keeps_its_steps_in_order_and_later_steps_get_the_previous_result():
    steps = [{"task": "m.first", "args": [1]}, {"task": "m.second", "args": [2]}, {"task": "m.third"}]
    pipeline = pipeline_from_json({"chain": steps})
    assert [e.task_name for e in pipeline.to_spec().entries] == ["m.first", "m.second", "m.third"]
    state, commands = react(None, PipelineSubmitted("p1", "s1", pipeline.to_spec()), 0.0)
    [first] = [c for c in commands if isinstance(c, TaskRequested)]
    _, commands = react(state, TaskSucceeded("p1", 1, first.uid, 0, "one"), 0.0)
    [second] = [c for c in commands if isinstance(c, TaskRequested)]
    assert (second.task_name, second.args) == ("m.second", ("one", 2))


def test_nested_parallel_steps_become_groups_with_their_options():
    body = {"parallel": [{"task": "m.a"}, {"parallel": [{"task": "m.b"}, {"chain": [{"task": "m.c"}, {"task": "m.d"}]}],
                                            "return_exceptions": True}],
            "max_parallelism": 1}
    [group] = entries(body)
    assert isinstance(group, GroupEntry) and group.max_parallelism == 1 and not group.return_exceptions
    first, second = group.chains
    assert [e.task_name for e in first.entries] == ["m.a"]
    [inner] = second.entries
    assert isinstance(inner, GroupEntry) and inner.return_exceptions
    assert [[e.task_name for e in chain.entries] for chain in inner.chains] == [["m.b"], ["m.c", "m.d"]]


def test_num_stages_splits_the_group_into_stages_and_flattens_their_results():
    body = {"parallel": [{"task": "m.a", "args": [i]} for i in range(4)], "num_stages": 2, "max_parallelism": 2}
    outer, flatten = entries(body)
    assert isinstance(outer, GroupEntry) and len(outer.chains) == 2 and outer.max_parallelism == 2
    assert all(chain.inline and len(chain.entries[0].chains) == 2 for chain in outer.chains)
    assert isinstance(flatten, TaskEntry) and flatten.task_name == BUILTIN_FLATTEN


def test_the_id_field_becomes_the_pipeline_id():
    assert pipeline_from_json({"id": "nightly-1", "task": "m.a"}).id == "nightly-1"
    assert pipeline_from_json({"task": "m.a"}).id != pipeline_from_json({"task": "m.a"}).id  # fresh ones


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"task": "m.a"}], "pipeline: expected a JSON object, got a list"),
        ({}, "pipeline: a step has exactly one of task, chain or parallel (found none)"),
        ({"task": "m.a", "chain": []}, "pipeline: a step has exactly one of task, chain or parallel (found ['task', 'chain'])"),
        ({"task": "m.a", "retries": 3}, "pipeline: unknown field(s) retries for a task step"),
        ({"chain": [{"task": "m.a"}, {"id": "x", "task": "m.b"}]}, "pipeline.chain[1]: unknown field(s) id"),
        ({"chain": [{"task": "m.a"}, {"task": 7}]}, "pipeline.chain[1].task: expected a task name (module.function), got a number"),
        ({"chain": [{"task": "m.a"}, "m.b"]}, "pipeline.chain[1]: expected a step"),
        ({"chain": []}, "pipeline.chain: expected a non-empty list of steps"),
        ({"parallel": {"task": "m.a"}}, "pipeline.parallel: expected a list of steps"),
        ({"parallel": [{"task": "m.a", "args": {"x": 1}}]}, "pipeline.parallel[0].args: expected a list of arguments, got an object"),
        ({"task": "m.a", "kwargs": [1]}, "pipeline.kwargs: expected an object of named arguments, got a list"),
        ({"parallel": [], "num_stages": 0}, "pipeline.num_stages: expected a whole number of 1 or more"),
        ({"parallel": [], "num_stages": True}, "pipeline.num_stages: expected a whole number of 1 or more"),
        ({"parallel": [], "max_parallelism": 1.5}, "pipeline.max_parallelism: expected a whole number of 1 or more"),
        ({"parallel": [], "return_exceptions": "yes"}, "pipeline.return_exceptions: expected true or false"),
        ({"id": "", "task": "m.a"}, "pipeline.id: expected a non-empty string"),
    ],
)
def test_a_malformed_body_is_refused_naming_the_part_that_is_wrong(body, message):
    assert message in refused(body)


def test_an_argument_kafka_cannot_carry_is_refused_naming_its_path():
    assert "pipeline.parallel[0].args[1]" in refused(
        {"parallel": [{"task": "m.a", "args": [1, 2**70]}]}, error=UnsupportedValueError
    )
    assert "pipeline.kwargs.big" in refused({"task": "m.a", "kwargs": {"big": 2**70}}, error=UnsupportedValueError)


def test_with_the_app_an_unknown_task_is_refused_naming_the_known_ones():
    message = refused({"chain": [{"task": "demo.load"}, {"task": "demo.lod"}]}, app)
    assert message.startswith("pipeline.chain[1].task: demo.lod is not a task of app 't'")
    assert "demo.load, demo.total" in message


def test_with_the_app_a_known_task_gets_its_binding():
    load_entry, total_entry = entries({"chain": [{"task": "demo.load", "args": [1]}, {"task": "demo.total"}]}, app)
    assert (load_entry.worker_name, load_entry.retry.max_retries, load_entry.args) == ("gpu", 3, (1,))
    assert total_entry.worker_name is None and total_entry.retry is None


def test_with_the_app_an_argument_kafka_cannot_carry_is_refused_naming_its_path():
    assert "pipeline.chain[1].args[0]" in refused(
        {"chain": [{"task": "demo.load", "args": [1]}, {"task": "demo.load", "args": [2**70]}]}, app,
        error=UnsupportedValueError,
    )

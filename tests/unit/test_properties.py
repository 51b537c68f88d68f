"""Invariants of the fold, on random pipelines: redelivery and reordering never change the
outcome, an event applied twice changes nothing, and replaying the log rebuilds the live state.
"""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.decide import react
from streams import in_parallel
from streams.builder import PipelineBuilder
from tests.scenarios.catalogue import add, describe_error, echo, fail, merge_state, tasks
from tests.unit.harness import Harness, replay


@st.composite
def chains(draw: Any, depth: int = 0) -> PipelineBuilder:
    """A chain of 1-3 steps; a step is a task or (shallowly) a nested group."""
    builder: PipelineBuilder | None = None
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["add", "echo", "fail", "state", "group", "handler"]))
        if kind == "group" and depth < 2:
            step = draw(groups(depth + 1))
        elif kind == "fail":
            step = fail.send(message=f"m{draw(st.integers(0, 9))}")
        elif kind == "state":
            step = merge_state.send(key=draw(st.sampled_from("ab")), value=draw(st.integers(0, 9)))
        elif kind == "handler" and builder is not None:
            builder.exceptionally(describe_error)
            continue
        elif kind == "add":
            step = add.send(draw(st.integers(0, 9)))
        else:
            step = echo.send(draw(st.integers(0, 9)))
        builder = step if builder is None else builder.continue_with(step)
    return builder if builder is not None else echo.send(0)


@st.composite
def groups(draw: Any, depth: int = 0) -> PipelineBuilder:
    entries = draw(st.lists(chains(depth), min_size=0, max_size=4))
    return in_parallel(
        entries,
        max_parallelism=draw(st.none() | st.integers(1, 3)),
        return_exceptions=draw(st.booleans()),
    )


pipelines = st.one_of(chains(), groups()).map(lambda b: b.with_initial(args=1, state={}))


def outcome(harness: Harness) -> tuple[Any, ...]:
    [finished] = harness.finished
    error = finished.error
    return (
        finished.status,
        repr(finished.result),
        repr(finished.state),
        None if error is None else (error.exception_type, error.exception_message),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline=pipelines, data=st.data())
def test_redelivery_and_reordering_never_change_the_outcome(pipeline: PipelineBuilder, data: Any) -> None:
    spec = pipeline.to_spec()
    baseline = Harness(tasks)
    baseline.submit(spec)
    baseline.run_fifo()

    chaotic = Harness(tasks)
    chaotic.submit(spec)
    delivered: list[Any] = []
    while chaotic.pending:
        request = data.draw(st.sampled_from(chaotic.pending))  # any order across tasks
        result = chaotic.work(request)
        chaotic.deliver(result)
        delivered.append(result)
        if data.draw(st.booleans()):  # at-least-once: redeliver some earlier result
            chaotic.deliver(data.draw(st.sampled_from(delivered)))
    assert outcome(chaotic) == outcome(baseline)

    # Replaying the recorded input log (duplicates included) rebuilds the same state.
    assert replay(chaotic.log) == chaotic.states
    baseline.close()
    chaotic.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline=pipelines, data=st.data())
def test_any_event_applied_twice_changes_nothing(pipeline: PipelineBuilder, data: Any) -> None:
    harness = Harness(tasks)
    harness.submit(pipeline.to_spec())
    while harness.pending:
        result = harness.work(data.draw(st.sampled_from(harness.pending)))
        harness.deliver(result)
        state = harness.states[result.pipeline_id]
        assert react(state, result, harness.now) == (state, [])
    assert len(harness.finished) == 1
    harness.close()

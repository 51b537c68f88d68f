"""States pickle fast (each frozen dataclass as its constructor and values, the submission once)
and round-trip exactly, old stored states included."""
from __future__ import annotations

import copyreg
import dataclasses
import pickle

from events import pickling
from events.decide import react
from events.messages import PipelineSubmitted, TaskRequested, TaskSucceeded
from events.state import PipelineState, TaskRun, _restore
from streams import in_parallel
from tests.scenarios.catalogue import add, echo


def half_done_fan_out() -> PipelineState:
    state, commands = react(None, PipelineSubmitted("p1", "s1", in_parallel([echo.send(i) for i in range(50)])
                                                    .continue_with(add, 1).to_spec()), 0.0)
    for request in [c for c in commands if isinstance(c, TaskRequested)][:25]:
        state, _ = react(state, TaskSucceeded("p1", 1, request.uid, 0, request.args[0]), 0.0)
    assert state is not None
    return state


def test_every_frozen_dataclass_of_the_engine_has_a_fast_reducer() -> None:
    assert TaskRun in pickling.REGISTERED and TaskRun in copyreg.dispatch_table
    assert PipelineState not in pickling.REGISTERED  # it has its own __reduce__


def test_a_state_round_trips_exactly_and_pickles_its_submission_once() -> None:
    state = half_done_fan_out()
    data = pickle.dumps(state)
    assert pickle.loads(data) == state
    assert pickle.loads(pickle.dumps(state.evolve(run=2))).run == 2  # a later state of the same pipeline


def test_a_state_stored_with_its_submission_inline_still_loads() -> None:
    state = half_done_fan_out()
    values = {f: getattr(state, f) for f in state.__dataclass_fields__ if f != "plan"}
    assert _restore(values) == state


def test_fields_at_their_defaults_are_left_out_and_come_back() -> None:
    fresh, _ = react(None, PipelineSubmitted("p2", "s2", echo.send(1).to_spec()), 0.0)
    assert fresh is not None
    _, (values, _) = fresh.__reduce__()
    assert "held" not in values and "timers" not in values and "outcome" not in values  # empty / None
    assert "tasks" in values and "status" in values
    assert pickle.loads(pickle.dumps(fresh)) == fresh
    paused_at_zero = fresh.evolve(next_held=0, revert_failures=())  # equal to the defaults: still exact
    assert pickle.loads(pickle.dumps(paused_at_zero)) == paused_at_zero


def test_the_pickled_submissions_kept_are_bounded_in_number() -> None:
    from events import state as state_module

    for i in range(state_module._SUBMISSIONS_KEPT + 10):
        state_module._pickled_submission(PipelineSubmitted(f"p{i}", "s", echo.send(i).to_spec()))
    assert len(state_module._SUBMISSIONS) <= state_module._SUBMISSIONS_KEPT
    kept = sum(len(data) for _, data in state_module._SUBMISSIONS.values())
    assert kept == state_module._submissions_bytes[0]


def test_evolve_changes_the_named_fields_only_and_refuses_unknown_ones() -> None:
    import pytest

    state = half_done_fan_out()
    evolved = state.evolve(run=7, next_held=3)
    assert (evolved.run, evolved.next_held) == (7, 3) and (state.run, state.next_held) == (1, 0)
    assert evolved == dataclasses.replace(state, run=7, next_held=3)
    with pytest.raises(TypeError, match="no field 'colour'"):
        state.evolve(colour="red")

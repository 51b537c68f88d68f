"""States pickle fast (each frozen dataclass as its constructor and values, the submission once)
and round-trip exactly, old stored states included."""
from __future__ import annotations

import copyreg
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

"""The concurrency limiter's fold and decide (events/limiter.py): permits in request order, never
more than the limit, redeliveries ignored, a released waiting request dropped."""
from __future__ import annotations

from events.decide import react
from events.limiter import LimiterState
from events.messages import Action, PermitReleased, PermitRequested, PipelineActionRequested, TaskRequested


def request(n: int) -> TaskRequested:
    return TaskRequested(f"p{n}", 1, "t", 0, "app.guarded", (n,), concurrency=2)


def ask(state, n: int):
    return react(state, PermitRequested(request(n), 2), 0.0)


def release(state, n: int):
    return react(state, PermitReleased("app.guarded", (request(n).request_id,)), 0.0)


def sent(commands) -> list[int]:
    return [c.args[0] for c in commands if isinstance(c, TaskRequested)]


def test_requests_beyond_the_limit_wait_and_go_in_order_as_permits_return():
    state, out = ask(None, 1)
    assert isinstance(state, LimiterState) and sent(out) == [1]
    state, out = ask(state, 2)
    assert sent(out) == [2]
    for n in (3, 4, 5):
        state, out = ask(state, n)
        assert sent(out) == []
    state, out = release(state, 2)
    assert sent(out) == [3]
    state, out = release(state, 1)
    assert sent(out) == [4]


def test_a_redelivered_request_or_release_changes_nothing():
    state, _ = ask(None, 1)
    state, out = ask(state, 1)
    assert sent(out) == [] and len(state.running) == 1
    state, _ = ask(state, 2)
    state, _ = ask(state, 3)
    state, out = release(state, 1)
    assert sent(out) == [3]
    state, out = release(state, 1)
    assert sent(out) == [] and len(state.running) == 2


def test_a_request_released_while_waiting_never_runs():
    state, _ = ask(None, 1)
    state, _ = ask(state, 2)
    state, _ = ask(state, 3)  # waits
    state, _ = ask(state, 4)  # waits
    state, out = release(state, 3)  # its pipeline was cancelled
    assert sent(out) == []
    state, out = release(state, 1)
    assert sent(out) == [4]


def test_its_status_says_how_many_run_and_wait():
    state, _ = ask(None, 1)
    state, _ = ask(state, 2)
    state, _ = ask(state, 3)
    state, [answer] = react(state, PipelineActionRequested(state.pipeline_id, "a1", Action.STATUS), 0.0)
    assert (answer.accepted, answer.message) == (True, "2 of 2 running, 1 waiting")


def test_runs_released_together_free_no_permit_for_each_other():
    state, _ = ask(None, 1)
    state, _ = ask(state, 2)
    state, _ = ask(state, 3)  # waits
    # Their pipeline ended: 1 and 2 ran, 3 waited. Released one by one, 3 would be sent on.
    state, out = react(state, PermitReleased("app.guarded", (request(1).request_id, request(2).request_id,
                                                             request(3).request_id)), 0.0)
    assert sent(out) == [] and len(state.running) == 0 and len(state.waiting) == 0


def test_a_request_sent_again_after_its_run_was_released_does_not_run_again():
    # An at-least-once replica killed before storing its pipeline sends the PermitRequested again
    # when the pipeline is folded anew, maybe after the run is over.
    state, _ = ask(None, 1)
    state, _ = release(state, 1)
    state, out = ask(state, 1)
    assert sent(out) == [] and len(state.running) == 0 and len(state.waiting) == 0
    state, out = ask(state, 2)
    assert sent(out) == [2]


def test_the_limiter_remembers_a_bounded_window_of_released_runs(monkeypatch):
    from events import limiter

    monkeypatch.setattr(limiter, "RELEASED_WINDOW", 3)
    state = None
    for n in range(1, 6):
        state, _ = ask(state, n)
        state, _ = release(state, n)
    assert sorted(state.released) == sorted(request(n).request_id for n in (3, 4, 5))
    assert len(state.released_order) == 3
    state, out = ask(state, 1)  # forgotten: it would run again (nothing else keeps it out)
    assert sent(out) == [1]
    state, out = ask(state, 5)
    assert sent(out) == []

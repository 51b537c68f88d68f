"""The fold and decide, given/when/then: given these events, when this one arrives, then this
state and these commands."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from events.decide import decide, next_wakeup, react
from events.errors import IllegalTransitionError
from events.messages import (
    Action,
    InputRejected,
    PipelineActionApplied,
    PipelineActionRequested,
    PipelineFinished,
    PipelineSubmitted,
    RetryScheduled,
    SubmissionRejected,
    TaskFailed,
    TaskRequested,
    TasksSkipped,
    TaskSucceeded,
)
from events.status import PipelineStatus, transition
from events.task_exception import INPUT_REJECTED_ERROR_TYPE, TaskException
from streams import RetryPolicy, in_parallel
from tests.scenarios.catalogue import add, cleanup, echo, fan_out, handled, multiply
from tests.scenarios.catalogue import tasks as catalogue_tasks
from tests.unit.harness import Harness

S = PipelineStatus


def requests(commands):
    return [c for c in commands if isinstance(c, TaskRequested)]


def succeed(request: TaskRequested, result, state=None) -> TaskSucceeded:
    return TaskSucceeded(request.pipeline_id, request.run, request.uid, request.attempt, result, state)


def fail(request: TaskRequested, message="boom", mro=("builtins.ValueError", "builtins.Exception")):
    error = TaskException(request.uid, "builtins.ValueError", message)
    return TaskFailed(request.pipeline_id, request.run, request.uid, request.attempt, error, request.state, mro)


def submitted(builder, submission_id="s1"):
    return PipelineSubmitted("p1", submission_id, builder.to_spec())


def test_submission_requests_the_first_task_with_initial_args():
    state, commands = react(None, submitted(add.send(2).with_initial(args=1, state="S")), 0.0)
    [request] = requests(commands)
    assert (request.task_name, request.args, request.state) == (add.name, (1, 2), "S")
    assert request.request_id == f"p1:1:{request.uid}:0"
    assert state.status is S.RUNNING


def test_result_is_prepended_to_the_next_tasks_args():
    state, commands = react(None, submitted(multiply.send(3, 2).continue_with(add, 1)), 0.0)
    state, commands = react(state, succeed(requests(commands)[0], 6), 0.0)
    [request] = requests(commands)
    assert (request.task_name, request.args) == (add.name, (6, 1))


def test_a_redelivered_result_changes_nothing():
    state, commands = react(None, submitted(multiply.send(3, 2).continue_with(add, 1)), 0.0)
    result = succeed(requests(commands)[0], 6)
    state, _ = react(state, result, 0.0)
    again, commands = react(state, result, 0.0)
    assert again is state
    assert commands == []


def test_results_of_another_run_or_attempt_are_ignored():
    state, commands = react(None, submitted(multiply.send(3, 2)), 0.0)
    request = requests(commands)[0]
    for stale in (replace(succeed(request, 6), run=0), replace(succeed(request, 6), attempt=1)):
        assert react(state, stale, 0.0) == (state, [])


def test_group_waits_for_every_branch_and_keeps_declaration_order():
    state, commands = react(
        None, submitted(in_parallel([echo.send(i) for i in range(3)]).continue_with(add)), 0.0
    )
    heads = requests(commands)
    assert len(heads) == 3
    state, commands = react(state, succeed(heads[2], 2), 0.0)
    assert [c.task_status for c in commands] == ["SUCCEEDED"]  # a notification, nothing else
    state, commands = react(state, succeed(heads[0], 0), 0.0)
    assert [c.task_status for c in commands] == ["SUCCEEDED"]
    state, commands = react(state, succeed(heads[1], 1), 0.0)
    [continuation] = requests(commands)
    assert continuation.args == ([0, 1, 2],)


def test_max_parallelism_defers_branches_until_a_chain_completes():
    state, commands = react(
        None, submitted(in_parallel([echo.send(i) for i in range(3)], max_parallelism=1)), 0.0
    )
    [first] = requests(commands)
    assert first.args == (0,)
    state, commands = react(state, succeed(first, 0), 0.0)
    [second] = requests(commands)
    assert second.args == (1,)


def test_retry_is_scheduled_then_dispatched_when_due():
    policy = RetryPolicy(max_retries=1, delay=timedelta(seconds=5))
    state, commands = react(None, submitted(add.send(1, 2).set(retry_policy=policy).with_initial(state="S")), 100.0)
    request = requests(commands)[0]
    state, commands = react(state, fail(request), 100.0)
    failed, retrying, scheduled = commands
    assert (failed.task_status, failed.message, retrying.task_status, retrying.attempt) == ("FAILED", "boom", "RETRYING", 1)
    assert scheduled == RetryScheduled("p1", 1, request.uid, 1, 105.0)
    assert next_wakeup(state) == 105.0
    assert decide(state, 104.0) == (state, [])
    state, commands = decide(state, 105.0)
    [retry] = requests(commands)
    assert retry == replace(request, attempt=1)  # same args and state, next attempt


def test_failure_not_matching_the_policy_is_not_retried():
    policy = RetryPolicy(retry_for=[KeyError])
    state, commands = react(None, submitted(add.send(1, 2).set(retry_policy=policy)), 0.0)
    state, commands = react(state, fail(requests(commands)[0]), 0.0)
    [finished] = [c for c in commands if isinstance(c, PipelineFinished)]
    assert finished.status is S.FAILED and finished.error.exception_message == "boom"


def test_failure_skips_to_the_handler_and_reports_the_skipped_tasks():
    pipeline = add.send(1, 2).continue_with(add).continue_with(echo).exceptionally(handled)
    state, commands = react(None, submitted(pipeline), 0.0)
    state, commands = react(state, fail(requests(commands)[0]), 0.0)
    [handler] = requests(commands)
    assert handler.task_name == handled.name
    assert isinstance(handler.args[0], TaskException)
    [skipped] = [c for c in commands if isinstance(c, TasksSkipped)]
    assert len(skipped.uids) == 2


def test_resubmitting_a_running_pipeline_is_rejected():
    state, _ = react(None, submitted(add.send(1, 2)), 0.0)
    again, commands = react(state, submitted(add.send(1, 2), submission_id="s2"), 0.0)
    [rejected] = commands
    assert isinstance(rejected, SubmissionRejected)
    assert "must have finished before they can be re-run" in rejected.message
    assert again.run == 1 and again.status is S.RUNNING


def test_resubmitting_a_finished_pipeline_starts_run_two_and_ignores_run_one():
    state, commands = react(None, submitted(add.send(1, 2)), 0.0)
    first = requests(commands)[0]
    state, _ = react(state, succeed(first, 3), 0.0)
    state, commands = react(state, submitted(add.send(1, 2), submission_id="s2"), 0.0)
    assert state.run == 2 and requests(commands)[0].run == 2
    assert react(state, succeed(first, 3), 0.0) == (state, [])


def test_pause_holds_requests_and_unpause_sends_them():
    state, commands = react(None, submitted(add.send(1, 2).continue_with(add)), 0.0)
    state, _ = react(state, PipelineActionRequested("p1", "a1", Action.PAUSE), 0.0)
    assert state.status is S.PAUSED
    state, commands = react(state, succeed(requests(commands)[0], 3), 0.0)
    assert requests(commands) == []
    state, commands = react(state, PipelineActionRequested("p1", "a2", Action.UNPAUSE), 0.0)
    [held] = requests(commands)
    assert held.args == (3,)
    assert [c for c in commands if isinstance(c, PipelineActionApplied)][0].accepted


def test_an_action_applies_once():
    state, _ = react(None, submitted(add.send(1, 2)), 0.0)
    pause = PipelineActionRequested("p1", "a1", Action.PAUSE)
    state, _ = react(state, pause, 0.0)
    assert react(state, pause, 0.0) == (state, [])


def test_cancel_dispatches_the_finally_then_ends_cancelled():
    pipeline = add.send(1, 2).continue_with(add).finally_do(cleanup, "k")
    state, commands = react(None, submitted(pipeline), 0.0)
    running = requests(commands)[0]
    state, commands = react(state, PipelineActionRequested("p1", "c1", Action.CANCEL), 0.0)
    [finally_request] = requests(commands)
    assert finally_request.task_name == cleanup.name
    assert state.status is S.CANCELLING
    assert react(state, succeed(running, 3), 0.0) == (state, [])  # swallowed while cancelling
    state, commands = react(state, succeed(finally_request, ()), 0.0)
    [finished] = [c for c in commands if isinstance(c, PipelineFinished)]
    assert finished.status is S.CANCELLED
    assert finished.error.exception_message == "Pipeline was cancelled"


def test_folding_the_same_log_twice_gives_equal_states():
    log = [submitted(in_parallel([echo.send(1), echo.send(2)]))]
    state, commands = react(None, log[0], 0.0)
    for request in requests(commands):
        log.append(succeed(request, request.args[0]))
    first = second = None
    for event in log:
        first, _ = react(first, event, 0.0)
    for event in log:
        second, _ = react(second, event, 0.0)
    assert first == second
    assert first.status is S.COMPLETED


def test_illegal_transition_fails_loudly():
    with pytest.raises(IllegalTransitionError, match="cannot go from COMPLETED to RUNNING"):
        transition(S.COMPLETED, S.RUNNING)


def test_status_query_answers_without_changing_the_pipeline():
    state, _ = react(None, submitted(add.send(1, 2)), 0.0)
    after, commands = react(state, PipelineActionRequested("p1", "q1", Action.STATUS), 0.0)
    assert commands == [PipelineActionApplied("p1", "q1", Action.STATUS, True, "RUNNING")]
    assert after.status is S.RUNNING and after.tasks == state.tasks


def test_result_query_resends_the_outcome_to_the_asker():
    state, commands = react(None, submitted(add.send(1, 2)), 0.0)
    state, _ = react(state, succeed(requests(commands)[0], 3), 0.0)
    _, commands = react(state, PipelineActionRequested("p1", "q1", Action.RESULT, "mine"), 0.0)
    finished = [c for c in commands if isinstance(c, PipelineFinished)]
    assert [(f.result, f.reply_topic) for f in finished] == [(3, "mine")]


def test_actions_on_an_unknown_pipeline_are_answered():
    _, commands = react(None, PipelineActionRequested("nope", "a1", Action.CANCEL), 0.0)
    assert not commands[0].accepted and "unknown" in commands[0].message
    _, commands = react(None, PipelineActionRequested("nope", "a2", Action.STATUS), 0.0)
    assert commands[0].accepted and commands[0].message == "PENDING"


def test_timer_elapsed_fires_due_retries_only():
    from events.messages import TimerElapsed

    policy = RetryPolicy(max_retries=1, delay=timedelta(seconds=5))
    state, commands = react(None, submitted(add.send(1, 2).set(retry_policy=policy)), 0.0)
    state, _ = react(state, fail(requests(commands)[0]), 0.0)
    assert react(state, TimerElapsed("p1", 4.0), 4.0) == (state, [])
    _, commands = react(state, TimerElapsed("p1", 5.0), 5.0)
    assert [r.attempt for r in requests(commands)] == [1]


def test_a_pickled_state_rebuilds_its_plan_and_compares_equal():
    import pickle

    state, commands = react(None, submitted(in_parallel([echo.send(1), add.send(2)])), 0.0)
    state, _ = react(state, succeed(requests(commands)[0], 1), 0.0)
    restored = pickle.loads(pickle.dumps(state))
    assert restored == state
    assert restored.plan == state.plan


def test_rejected_input_fails_a_running_pipeline_at_once_and_later_results_are_ignored():
    state, commands = react(None, submitted(add.send(1, 2).continue_with(add, 3).finally_do(cleanup, "k")), 0.0)
    running = requests(commands)[0]
    state, commands = react(state, InputRejected("p1", "a record for it is not an event: see the dead letters"), 0.0)
    [finished] = [c for c in commands if isinstance(c, PipelineFinished)]
    assert finished.status is S.FAILED and state.status is S.FAILED
    assert finished.error.exception_type == INPUT_REJECTED_ERROR_TYPE
    assert finished.error.exception_message == "a record for it is not an event: see the dead letters"
    assert requests(commands) == []  # the finally does not run: the pipeline cannot be trusted to go on
    assert react(state, succeed(running, 3), 0.0) == (state, [])


def test_rejected_input_is_ignored_once_the_pipeline_has_finished():
    state, commands = react(None, submitted(add.send(1, 2)), 0.0)
    state, _ = react(state, succeed(requests(commands)[0], 3), 0.0)
    assert state.status is S.COMPLETED
    assert react(state, InputRejected("p1", "late"), 0.0) == (state, [])


def test_rejected_input_for_an_unknown_pipeline_is_answered_as_a_rejected_submission():
    # A foreign client's unreadable submission: it waits on the default replies topic by pipeline id.
    assert react(None, InputRejected("p1", "not framed"), 0.0) == (None, [SubmissionRejected("p1", "", "not framed")])


def test_rejected_input_cancels_the_child_pipelines_and_can_drop_the_progress():
    h = Harness(catalogue_tasks)
    h.submit(add.send(1, 2).continue_with(fan_out).to_spec())
    h.deliver(h.work(h.pending[0]))  # add -> 3
    child_event = h.work(h.pending[0])  # fan_out returns a child pipeline
    h.deliver(child_event)
    assert h.states["p1"].children
    commands = h.deliver(InputRejected("p1", "too large", drop_progress=True))
    [cancel] = [c for c in commands if isinstance(c, PipelineActionRequested)]
    assert cancel.action is Action.CANCEL and cancel.pipeline_id in h.states
    assert h.states[cancel.pipeline_id].status is S.CANCELLED
    state = h.states["p1"]
    assert state.status is S.FAILED
    assert not state.tasks and not state.chains and not state.groups and not state.children
    h.close()


def test_a_finished_pipeline_records_when_it_finished_and_a_re_run_starts_without():
    state, commands = react(None, submitted(add.send(1, 2)), 10.0)
    assert state.finished_at is None
    state, _ = react(state, succeed(requests(commands)[0], 3), 12.5)
    assert state.status is S.COMPLETED and state.finished_at == 12.5
    state, _ = react(state, submitted(add.send(1, 2), submission_id="s2"), 20.0)
    assert state.status is S.RUNNING and state.finished_at is None


def test_a_malformed_builtin_step_fails_its_pipeline_not_the_orchestrator():
    from dataclasses import replace as replaced

    from events.spec import BUILTIN_GRAPH_MERGE, TaskEntry

    pipeline = echo.send(1)
    spec = pipeline.to_spec()
    broken = replaced(spec, entries=(*spec.entries, TaskEntry("m1", BUILTIN_GRAPH_MERGE, args=("a", "b"))))
    state, commands = react(None, PipelineSubmitted("p1", "s1", broken), 0.0)
    state, commands = react(state, succeed(requests(commands)[0], 1), 0.0)  # 1 is no list of results
    [finished] = [c for c in commands if isinstance(c, PipelineFinished)]
    assert finished.status is S.FAILED and "cannot run on int" in finished.error.exception_message

"""evolve(state, event) -> state: the pure fold of the orchestrator's input events.

The fold records facts and leaves an agenda for `decide`; it never chooses what to send.
Redelivered and stale events are dropped here and only here, so at-least-once delivery never
applies an event twice.
"""
from __future__ import annotations

from functools import singledispatch
from typing import Any

from events.limiter import evolve_limiter, is_limiter_event
from events.messages import (
    InputRejected,
    PipelineActionRequested,
    PipelineSubmitted,
    TaskFailed,
    TaskStatusChanged,
    TaskSucceeded,
)
from events.schedule import evolve_schedule, is_schedule_event
from events.state import Failure, PipelineState, Success, TaskRun, TaskStatus, Work, new_state
from events.status import PipelineStatus


def evolve(state: PipelineState | None, event: object) -> PipelineState | None:
    """Fold one input event into the state of its pipeline (None: not seen yet), or of the
    schedule or concurrency limiter its key names (events/schedule.py, events/limiter.py: they
    share the pipelines' topic and table)."""
    if is_schedule_event(state, event):
        return evolve_schedule(state, event)
    if is_limiter_event(state, event):
        return evolve_limiter(state, event)
    return _evolve(event, state)


@singledispatch
def _evolve(event: object, state: PipelineState | None) -> PipelineState | None:
    # Output events (TaskRequested, PipelineFinished, ...) are facts the orchestrator already
    # holds in its state when it decides them; seeing one again changes nothing.
    return state


@_evolve.register
def _(event: PipelineSubmitted, state: PipelineState | None) -> PipelineState | None:
    if state is None:
        return new_state(event, run=1)
    if event.submission_id == state.submission.submission_id:
        return state  # redelivered submission
    if state.status.is_finished:
        return new_state(event, run=state.run + 1)  # re-run: a fresh run, stale results ignored
    return _add_work(state, (Work.REJECT_SUBMISSION, event))


@_evolve.register
def _(event: TaskSucceeded, state: PipelineState | None) -> PipelineState | None:
    task = _accepting(state, event)
    if task is None or state is None:
        return state
    if task.status is TaskStatus.RUNNING and event.child is not None:
        run = TaskRun(TaskStatus.AWAITING_CHILD, task.attempt, task.request)
        return _add_work(state, (Work.SPAWN_CHILD, event.uid, event), tasks=state.tasks.set(event.uid, run))
    outcome = Success(event.result, event.state)
    # The request goes (memory), unless a revert needs its arguments should the pipeline fail,
    # or its permit must be released (decide does both).
    plan = state.plan.tasks.get(event.uid)
    keep = plan is not None and (plan.entry.revert is not None or plan.entry.concurrency is not None)
    request = task.request if keep else None
    run = TaskRun(TaskStatus.SUCCEEDED, task.attempt, request, outcome, pause_after=event.pause)
    return _record(state, event.uid, run, event.state)


@_evolve.register
def _(event: TaskFailed, state: PipelineState | None) -> PipelineState | None:
    task = _accepting(state, event)
    if task is None or state is None:
        return state
    outcome = Failure(event.error, event.state)
    # The request stays: decide may retry it unchanged.
    run = TaskRun(TaskStatus.FAILED, task.attempt, task.request, outcome, event.exception_mro)
    return _record(state, event.uid, run, event.state)


@_evolve.register
def _(event: TaskStatusChanged, state: PipelineState | None) -> PipelineState | None:
    # A worker reports the start of runs with an SLA: the deadline is kept, no SlaMissed.
    if state is None or event.run != state.run or event.task_status != "STARTED" or event.uid not in state.sla_due:
        return state
    return state.evolve(sla_due=state.sla_due.delete(event.uid))


@_evolve.register
def _(event: PipelineActionRequested, state: PipelineState | None) -> PipelineState | None:
    if state is None:
        return None  # nothing to act on: the caller learns it from the status query
    if event.action_id in state.seen_actions:
        return state
    return _add_work(state, (Work.ACTION, event), seen_actions=state.seen_actions.set(event.action_id, True))


@_evolve.register
def _(event: InputRejected, state: PipelineState | None) -> PipelineState | None:
    if state is None or state.status.is_finished:
        return state  # nothing running to fail: the dead letter alone keeps the record
    return _add_work(state, (Work.ABORT, event))


def _accepting(state: PipelineState | None, event: TaskSucceeded | TaskFailed) -> TaskRun | None:
    """The task run this outcome belongs to, or None when the outcome is stale or a duplicate."""
    if state is None or event.run != state.run or state.status.is_finished:
        return None
    task = state.tasks.get(event.uid)
    if task is None or task.attempt != event.attempt:
        return None
    if state.status is PipelineStatus.CANCELLING and event.uid != state.plan.finally_uid:
        return None  # a cancelled pipeline only waits for its finally
    if task.status is TaskStatus.RUNNING:
        return task
    if task.status is TaskStatus.AWAITING_CHILD and getattr(event, "child", None) is None:
        return task  # the child pipeline's outcome
    return None


def _record(state: PipelineState, uid: str, run: TaskRun, task_state: object) -> PipelineState:
    return _add_work(state, (Work.TASK_DONE, uid), tasks=state.tasks.set(uid, run), last_state=task_state)


def _add_work(state: PipelineState, item: tuple, **changes: Any) -> PipelineState:
    """`item` on the agenda (decide works it off), with any `changes`, in one copy."""
    return state.evolve(agenda=state.agenda + (item,), **changes)

"""Schedules: a pipeline run at every slot of a CRON expression, folded like a pipeline.

A schedule lives on the pipeline events topic under the key `schedule:<name>`, so the
orchestrator keeps it in the same table, restores it from the same changelog and wakes it with the
same timers as a pipeline's retries: it survives restarts, moves with its partition when a replica
dies, and a replay rebuilds it. At each slot it submits the pipeline under an id derived from its
name and the slot time (`nightly@2026-11-28T02:00:00Z`) with that same id as the submission id.
A slot fired twice (a replica that died after firing but before storing that it had) submits the
same pipeline under the same submission id again, which the pipeline's fold drops: one run per
slot, however many replicas run.

Slots are UTC. Five fields are minutes to weekdays; a sixth, last, field is seconds (croniter's
convention). With `catch_up`, every slot missed (the orchestrator was down, the schedule paused)
runs once, oldest first; without it only the latest missed slot runs, as in Airflow.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from immutables import Map

from events.messages import (
    Action,
    PipelineActionApplied,
    PipelineActionRequested,
    PipelineSubmitted,
    ScheduleDefined,
    ScheduleUpdated,
    schedule_key,
)
from events.spec import iter_tasks

# Slots submitted per decision while catching up; the rest follow at once through a timer, so a
# long outage of a one-second schedule never makes one batch of thousands.
CATCH_UP_BATCH = 100


def slot_pipeline_id(name: str, slot: float) -> str:
    """The pipeline id of a schedule's run at `slot`: the same from every replica, every time."""
    return f"{name}@{datetime.fromtimestamp(slot, UTC):%Y-%m-%dT%H:%M:%SZ}"


def invalid_schedule(name: str, cron: str, start_at: float | None, end_at: float | None) -> str | None:
    """Why a schedule cannot be defined, or None."""
    if not name or any(c.isspace() for c in name) or "@" in name:
        return f"schedule name {name!r} must be non-empty, without spaces or '@' (it names pipelines: name@slot)"
    if not croniter.is_valid(cron):
        return (f"schedule {name!r}: {cron!r} is not a CRON expression: use five fields (minute hour "
                "day-of-month month day-of-week, e.g. '*/5 * * * *') or six with seconds last")
    if start_at is not None and end_at is not None and end_at < start_at:
        return f"schedule {name!r} ends before it starts: end_date must come after start_date"
    return None


class ScheduleStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"  # past its end date: no slot left
    REMOVED = "REMOVED"
    INVALID = "INVALID"  # defined with a bad name, CRON expression or dates (by a client that did not check)

    @property
    def is_finished(self) -> bool:
        """No slot will fire: the orchestrator's retention may drop the state."""
        return self in (ScheduleStatus.ENDED, ScheduleStatus.REMOVED, ScheduleStatus.INVALID)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    definition: ScheduleDefined
    status: ScheduleStatus
    next_slot: float | None = None  # None: to be worked out (just defined)
    last_slot: float | None = None
    runs: int = 0
    seen_actions: Map = Map()
    agenda: tuple[Any, ...] = ()  # actions to answer
    changed: bool = False  # a ScheduleUpdated is owed
    finished_at: float | None = None
    problem: str = ""  # INVALID: why

    @property
    def pipeline_id(self) -> str:
        return schedule_key(self.definition.name)

    @property
    def timers(self) -> dict[str, float]:
        """When the next slot falls due (what `next_wakeup` reads, as for a pipeline's retries)."""
        if self.status is ScheduleStatus.ACTIVE and self.next_slot is not None:
            return {"slot": self.next_slot}
        return {}

    def evolve(self, **changes: Any) -> ScheduleState:
        return replace(self, **changes)

    def without_progress(self) -> ScheduleState:
        return self  # nothing grows: a schedule's state is its definition and a few numbers


def is_schedule_event(state: Any, event: Any) -> bool:
    return isinstance(state, ScheduleState) or isinstance(event, ScheduleDefined)


def evolve_schedule(state: Any, event: Any) -> Any:
    """The fold for keys holding a schedule."""
    if isinstance(event, ScheduleDefined):
        problem = invalid_schedule(event.name, event.cron, event.start_at, event.end_at)
        if problem is not None and (state is None or isinstance(state, ScheduleState)):
            # The Python API refuses these; another client's must not stop the orchestrator.
            return ScheduleState(event, ScheduleStatus.INVALID, changed=True, problem=problem)
        if state is None or state.status in (ScheduleStatus.REMOVED, ScheduleStatus.INVALID):
            return ScheduleState(event, _status_of(event), changed=True)
        if not isinstance(state, ScheduleState) or event == state.definition:
            return state  # a pipeline under that key (cannot be redefined as a schedule), or redelivered
        # Redefined: slots already fired stay fired; the next one is worked out anew.
        return state.evolve(definition=event, status=_status_of(event), next_slot=None, changed=True, finished_at=None)
    if isinstance(event, PipelineActionRequested) and isinstance(state, ScheduleState):
        if event.action_id in state.seen_actions:
            return state
        return state.evolve(seen_actions=state.seen_actions.set(event.action_id, True), agenda=(*state.agenda, event))
    return state  # a timer: decide looks at the clock


def decide_schedule(state: ScheduleState, now: float) -> tuple[ScheduleState, list[Any]]:
    out: list[Any] = []
    for action in state.agenda:
        state = _apply(state, action, now, out)
    state = state.evolve(agenda=())
    if state.next_slot is None and not state.status.is_finished:
        # Paused ones too: slots from the definition on are missed slots when it resumes.
        state = state.evolve(next_slot=_first_slot(state, now))
    if state.status is ScheduleStatus.ACTIVE:
        state = _fire_due(state, now, out)
    if state.status is ScheduleStatus.ACTIVE and state.next_slot is None:
        state = state.evolve(status=ScheduleStatus.ENDED, finished_at=now, changed=True)
    if state.changed:
        out.append(_snapshot(state))
        state = state.evolve(changed=False)
    return state, out


def _status_of(definition: ScheduleDefined) -> ScheduleStatus:
    return ScheduleStatus.ACTIVE if definition.active else ScheduleStatus.PAUSED


def _apply(state: ScheduleState, event: PipelineActionRequested, now: float, out: list[Any]) -> ScheduleState:
    def answer(accepted: bool, message: str = "") -> None:
        out.append(PipelineActionApplied(event.pipeline_id, event.action_id, event.action, accepted, message,
                                         event.reply_topic))

    name, status = state.definition.name, state.status
    if event.action is Action.STATUS:
        answer(True, status.name)
        return state
    if event.action is Action.RESULT:
        answer(False, f"schedule {name} has no result of its own: its runs are pipelines named {name}@<slot time>")
        return state
    if status.is_finished:
        answer(False, f"schedule {name} is {status.name}: define it again to use it")
        return state
    answer(True)
    if event.action is Action.PAUSE:
        return state.evolve(status=ScheduleStatus.PAUSED, changed=True)
    if event.action is Action.UNPAUSE:
        # Slots passed while paused are missed slots: caught up or skipped as the schedule says.
        return state.evolve(status=ScheduleStatus.ACTIVE, changed=True)
    return state.evolve(status=ScheduleStatus.REMOVED, next_slot=None, finished_at=now, changed=True)  # CANCEL


def _slots_after(cron: str, after: float) -> croniter:
    return croniter(cron, datetime.fromtimestamp(after, UTC))


def _first_slot(state: ScheduleState, now: float) -> float | None:
    definition = state.definition
    if state.last_slot is not None:
        after = state.last_slot  # redefined or resumed: on from the last run
    elif definition.start_at is not None:
        after = definition.start_at - 1  # a slot at the start date itself counts
    else:
        after = now  # from now on: no slot before it was defined
    slot = float(_slots_after(definition.cron, after).get_next(float))
    if definition.start_at is not None:
        while slot < definition.start_at:
            slot = float(_slots_after(definition.cron, slot).get_next(float))
    return _within_end(definition, slot)


def _within_end(definition: ScheduleDefined, slot: float) -> float | None:
    return None if definition.end_at is not None and slot > definition.end_at else slot


def _fire_due(state: ScheduleState, now: float, out: list[Any]) -> ScheduleState:
    definition = state.definition
    slot = state.next_slot
    if slot is None or slot > now:
        return state
    due: list[float] = []
    if definition.catch_up:
        upcoming = _slots_after(definition.cron, slot)
        while slot is not None and slot <= now and len(due) < CATCH_UP_BATCH:
            due.append(slot)
            slot = _within_end(definition, float(upcoming.get_next(float)))
    else:
        # The latest slot that has come, alone: the missed ones before it are skipped. Slots are
        # whole seconds: the latest at or before `horizon` is the one before its next second.
        horizon = now if definition.end_at is None else min(now, definition.end_at)
        due.append(max(slot, float(_slots_after(definition.cron, int(horizon) + 1).get_prev(float))))
        slot = _within_end(definition, float(_slots_after(definition.cron, due[-1]).get_next(float)))
    for at in due:
        pipeline_id = slot_pipeline_id(definition.name, at)
        out.append(PipelineSubmitted(pipeline_id=pipeline_id, submission_id=pipeline_id, spec=definition.spec))
    return state.evolve(next_slot=slot, last_slot=due[-1], runs=state.runs + len(due), changed=True)


def _snapshot(state: ScheduleState) -> ScheduleUpdated:
    definition = state.definition
    return ScheduleUpdated(
        name=definition.name,
        cron=definition.cron,
        schedule_status=state.status.name,
        catch_up=definition.catch_up,
        task_names=tuple(t.task_name for t in iter_tasks(definition.spec)),
        start_at=definition.start_at,
        end_at=definition.end_at,
        next_slot_at=state.next_slot if state.status is ScheduleStatus.ACTIVE else None,
        last_slot_at=state.last_slot,
        last_pipeline_id=None if state.last_slot is None else slot_pipeline_id(definition.name, state.last_slot),
        runs=state.runs,
        message=state.problem,
    )

"""Concurrency limits: at most N runs of a task at once, across every pipeline and worker.

A task bound with `concurrency=N` is not requested directly: its pipeline sends a
`PermitRequested` (carrying the request) to the key `limit:<task name>` on the pipeline events
topic, where the orchestrator keeps a limiter like any pipeline (same table, changelog, replay).
The limiter sends the request on once fewer than N runs hold a permit, oldest first; the
pipeline sends `PermitReleased` when the run's outcome arrives, or when it ends or is cancelled
with the run still out. Both carry the request id, so redelivered ones change nothing.

A request can also come back after its run was released: an at-least-once orchestrator replica
killed between sending a `PermitRequested` and storing its pipeline's state sends it again when
the pipeline is folded anew, maybe after the run is over. Granted again, the task would run twice,
and the second run's outcome, stale to its pipeline, would never release its permit: the limit
would shrink by one for good. So the limiter remembers the last RELEASED_WINDOW released ids and
drops requests for them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from immutables import Map

from events.messages import (
    Action,
    PermitReleased,
    PermitRequested,
    PipelineActionApplied,
    PipelineActionRequested,
    TaskRequested,
)

# How many released request ids a limiter remembers. A request comes back within one fold of its
# pipeline's partition after a replica dies (seconds); this many releases cover that even for short
# runs at a high limit, and cost ~50 bytes each in the limiter's stored state.
RELEASED_WINDOW = 4096


class LimiterStatus(enum.Enum):
    ACTIVE = "ACTIVE"

    @property
    def is_finished(self) -> bool:
        return False  # a limiter lives as long as its task: the retention never drops it


@dataclass(frozen=True, slots=True)
class LimiterState:
    task_name: str
    limit: int
    running: Map = Map()  # request id -> True: runs holding a permit
    waiting: Map = Map()  # sequence -> TaskRequested, oldest first
    waiting_ids: Map = Map()  # request id -> sequence
    head: int = 0  # no waiting request has a lower sequence
    next_seq: int = 0
    agenda: tuple[Any, ...] = ()  # actions to answer
    released: Map = Map()  # request id -> release sequence: the last RELEASED_WINDOW released
    released_order: Map = Map()  # release sequence -> request id, to forget the oldest
    released_seq: int = 0

    # What the orchestrator asks of every state in its table.
    @property
    def pipeline_id(self) -> str:
        return PermitRequested.key_of(self.task_name)

    @property
    def status(self) -> LimiterStatus:
        return LimiterStatus.ACTIVE

    @property
    def finished_at(self) -> float | None:
        return None

    @property
    def timers(self) -> Map:
        return Map()  # nothing here waits for time

    def evolve(self, **changes: Any) -> LimiterState:
        return replace(self, **changes)

    def without_progress(self) -> LimiterState:
        return self


def is_limiter_event(state: Any, event: Any) -> bool:
    return isinstance(state, LimiterState) or isinstance(event, (PermitRequested, PermitReleased))


def evolve_limiter(state: Any, event: Any) -> Any:
    if isinstance(event, PermitRequested):
        if state is None:
            state = LimiterState(event.request.task_name, event.limit)
        if not isinstance(state, LimiterState):
            return state
        request_id = event.request.request_id
        if request_id in state.running or request_id in state.waiting_ids or request_id in state.released:
            return state  # redelivered, or sent again after its run was over
        return state.evolve(
            limit=event.limit,  # the latest deployment's limit
            waiting=state.waiting.set(state.next_seq, event.request),
            waiting_ids=state.waiting_ids.set(request_id, state.next_seq),
            next_seq=state.next_seq + 1,
        )
    if not isinstance(state, LimiterState):
        return state
    if isinstance(event, PermitReleased):
        running, waiting, waiting_ids = state.running.mutate(), state.waiting.mutate(), state.waiting_ids.mutate()
        released, order, seq = state.released.mutate(), state.released_order.mutate(), state.released_seq
        for request_id in event.request_ids:
            if request_id in running:
                del running[request_id]
            elif request_id in waiting_ids:  # its pipeline ended before the run got a permit
                del waiting[waiting_ids[request_id]]
                del waiting_ids[request_id]
            else:
                continue  # redelivered, or never requested here
            released[request_id] = seq
            order[seq] = request_id
            if seq >= RELEASED_WINDOW:
                oldest = order.pop(seq - RELEASED_WINDOW)
                if released.get(oldest) == seq - RELEASED_WINDOW:  # not released again since
                    del released[oldest]
            seq += 1
        return state.evolve(running=running.finish(), waiting=waiting.finish(), waiting_ids=waiting_ids.finish(),
                            released=released.finish(), released_order=order.finish(), released_seq=seq)
    if isinstance(event, PipelineActionRequested):
        return state.evolve(agenda=(*state.agenda, event))
    return state


def decide_limiter(state: LimiterState, now: float) -> tuple[LimiterState, list[Any]]:
    out: list[Any] = [_answer(state, action) for action in state.agenda]
    running, waiting, waiting_ids = state.running.mutate(), state.waiting.mutate(), state.waiting_ids.mutate()
    head = state.head
    # Oldest first, from the head on: sequences of requests released while waiting are skipped.
    while len(running) < state.limit and head < state.next_seq:
        request: TaskRequested | None = waiting.get(head)
        head += 1
        if request is None:
            continue
        del waiting[head - 1]
        del waiting_ids[request.request_id]
        running[request.request_id] = True
        out.append(request)
    state = state.evolve(running=running.finish(), waiting=waiting.finish(), waiting_ids=waiting_ids.finish(),
                         head=head, agenda=())
    return state, out


def _answer(state: LimiterState, action: PipelineActionRequested) -> PipelineActionApplied:
    if action.action is Action.STATUS:
        message = f"{len(state.running)} of {state.limit} running, {len(state.waiting)} waiting"
        return PipelineActionApplied(action.pipeline_id, action.action_id, action.action, True, message, action.reply_topic)
    return PipelineActionApplied(
        action.pipeline_id, action.action_id, action.action, False,
        f"{action.pipeline_id} is the concurrency limit of task {state.task_name}: only STATUS applies to it",
        action.reply_topic,
    )

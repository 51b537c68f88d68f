"""The events: immutable facts with past-tense names, one Avro schema each (see `schemas/`).

Inputs the orchestrator folds: `PipelineSubmitted`, `TaskSucceeded`, `TaskFailed`,
`PipelineActionRequested`, `TimerElapsed`, `ScheduleDefined`. Everything else is decided by it (`events.decide`) and published:
`TaskRequested` to workers, `PipelineFinished`/`SubmissionRejected`/`PipelineActionApplied` to the
caller, `PipelineStatusChanged`/`TasksSkipped`/`RetryScheduled` to the status topic, `ScheduleUpdated`
to the schedules topic. A child
pipeline's `PipelineSubmitted` and its final `TaskSucceeded`/`TaskFailed` go back in as inputs.
"""
from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from events.spec import PipelineSpec, RetrySpec
from events.status import PipelineStatus
from events.task_exception import TaskException

_CHILD_NAMESPACE = uuid.UUID("6f1c3a52-0d7e-4c39-9a49-4a7f0b1f7c11")


def request_id(pipeline_id: str, run: int, uid: str, attempt: int) -> str:
    """A task request's id: derived, never random, so a replay produces the same ids."""
    return f"{pipeline_id}:{run}:{uid}:{attempt}"


def child_pipeline_id(parent_request_id: str) -> str:
    return str(uuid.uuid5(_CHILD_NAMESPACE, parent_request_id))


SCHEDULE_KEY_PREFIX = "schedule:"
LIMIT_KEY_PREFIX = "limit:"


def schedule_key(name: str) -> str:
    """The key (and `pipeline_id`) under which the orchestrator keeps a schedule."""
    return SCHEDULE_KEY_PREFIX + name


class Action(enum.Enum):
    PAUSE = "PAUSE"
    UNPAUSE = "UNPAUSE"
    CANCEL = "CANCEL"
    STATUS = "STATUS"  # answered with the status name in PipelineActionApplied.message
    RESULT = "RESULT"  # answered by re-sending PipelineFinished, if the pipeline has finished

    @property
    def is_query(self) -> bool:
        return self in (Action.STATUS, Action.RESULT)


@dataclass(frozen=True, slots=True)
class ParentTask:
    """Which task of which pipeline waits for a child pipeline's outcome."""

    pipeline_id: str
    run: int
    uid: str
    attempt: int
    is_fruitful: bool = True
    state: Any = None  # the state the orchestrating task returned with the pipeline


@dataclass(frozen=True, slots=True)
class PipelineSubmitted:
    pipeline_id: str
    submission_id: str
    spec: PipelineSpec
    reply_topic: str | None = None
    parent: ParentTask | None = None
    root_pipeline_id: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRequested:
    pipeline_id: str
    run: int
    uid: str
    attempt: int
    task_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    is_fruitful: bool = True
    retry: RetrySpec | None = None
    worker_name: str | None = None
    display_name: str | None = None
    root_pipeline_id: str | None = None
    sla_s: float | None = None  # the worker reports the start to the orchestrator (SlaMissed)
    concurrency: int | None = None  # runs at most this many at once: through a permit (events/limiter.py)

    @property
    def request_id(self) -> str:
        return request_id(self.pipeline_id, self.run, self.uid, self.attempt)


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    pipeline_id: str
    run: int
    uid: str
    attempt: int
    result: Any = ()
    state: Any = None
    child: PipelineSpec | None = None  # set when the task returned a pipeline (an orchestrator task)
    pause: bool = False  # the task asked the pipeline to pause after it (`with_pause_pipeline`)


@dataclass(frozen=True, slots=True)
class TaskFailed:
    pipeline_id: str
    run: int
    uid: str
    attempt: int
    error: TaskException
    state: Any = None
    exception_mro: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskOutcomes:
    """Outcomes of several tasks of one pipeline in one record: what a worker sends for those that
    end together (a wide fan-out's results, a few to a record, cross the broker and the
    orchestrator's consumer once, not once each). Folded as its outcomes one after the other."""

    pipeline_id: str
    outcomes: tuple[TaskSucceeded | TaskFailed, ...]


def unbatched(event: Any) -> tuple[Any, ...]:
    """The events a record's event stands for: a TaskOutcomes' outcomes, a StatusEvents' events,
    or the event itself."""
    kind = type(event)
    if kind is TaskOutcomes:
        return event.outcomes
    if kind is StatusEvents:
        return event.events
    return (event,)


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    pipeline_id: str
    run: int
    uid: str
    attempt: int  # the attempt that will run
    due_at: float


@dataclass(frozen=True, slots=True)
class PipelineActionRequested:
    pipeline_id: str
    action_id: str
    action: Action
    reply_topic: str | None = None


@dataclass(frozen=True, slots=True)
class TimerElapsed:
    """The orchestrator's clock reached a pipeline's next retry: decide what is now due."""

    pipeline_id: str
    at: float


@dataclass(frozen=True, slots=True)
class PipelineActionApplied:
    pipeline_id: str
    action_id: str
    action: Action
    accepted: bool
    message: str = ""
    reply_topic: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineStatusChanged:
    pipeline_id: str
    run: int
    status: PipelineStatus
    previous: PipelineStatus


@dataclass(frozen=True, slots=True)
class TaskStatusChanged:
    """A task's transition: REQUESTED, STARTED (from the worker), SUCCEEDED, FAILED, RETRYING,
    REVERTING, REVERTED or REVERT_FAILED (its revert's fate). On the status topic."""

    pipeline_id: str
    run: int
    uid: str
    task_name: str
    attempt: int
    task_status: str
    message: str = ""  # FAILED / REVERT_FAILED: the error


@dataclass(frozen=True, slots=True)
class SlaMissed:
    """A run had not started `sla_s` after its request. On the status topic."""

    pipeline_id: str
    run: int
    uid: str
    task_name: str
    attempt: int
    sla_s: float
    requested_at: float


@dataclass(frozen=True, slots=True)
class TasksSkipped:
    pipeline_id: str
    run: int
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatusEvents:
    """Status events of one pipeline in one record, in order: what the orchestrator sends for
    three or more it decides together (a wide fan-out's REQUESTED and SUCCEEDED transitions
    cross its producer and the broker a few hundred to a record, not once each), and a worker
    for the STARTED of tasks it starts together. Read as its events one after the other."""

    pipeline_id: str
    events: tuple[TaskStatusChanged | PipelineStatusChanged | TasksSkipped | RetryScheduled | SlaMissed, ...]


@dataclass(frozen=True, slots=True)
class PipelineFinished:
    pipeline_id: str
    run: int
    submission_id: str
    status: PipelineStatus
    result: Any = None
    error: TaskException | None = None
    state: Any = None
    reply_topic: str | None = None
    revert_failures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmissionRejected:
    pipeline_id: str
    submission_id: str
    message: str
    reply_topic: str | None = None


@dataclass(frozen=True, slots=True)
class InputRejected:
    """The orchestrator's verdict on input of a pipeline it could not process: a record keyed by
    the pipeline that is not an event, or a state grown past what the changelog can store. Never
    on the wire: it is derived from the log alone, so a replay derives the same verdict. The
    pipeline fails with `reason`; `drop_progress` also empties its task records (the part of the
    state that could not be stored).
    """

    pipeline_id: str
    reason: str
    drop_progress: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleDefined:
    """Define (or redefine) a schedule. Key: `schedule:<name>`."""

    name: str
    cron: str
    spec: PipelineSpec
    start_at: float | None = None  # seconds since the epoch; None: from when it is defined
    end_at: float | None = None  # no slot after this
    active: bool = True
    catch_up: bool = False

    @property
    def pipeline_id(self) -> str:
        return schedule_key(self.name)


@dataclass(frozen=True, slots=True)
class ScheduleUpdated:
    """A schedule as it is now, after any change or fired slot (on the compacted schedules
    topic, keyed by name: its latest record is the schedule's current state)."""

    name: str
    cron: str
    schedule_status: str
    catch_up: bool
    task_names: tuple[str, ...]
    start_at: float | None = None
    end_at: float | None = None
    next_slot_at: float | None = None
    last_slot_at: float | None = None
    last_pipeline_id: str | None = None
    runs: int = 0
    message: str = ""  # INVALID: why

    @property
    def pipeline_id(self) -> str:
        return schedule_key(self.name)


@dataclass(frozen=True, slots=True)
class PermitRequested:
    """A pipeline asks the concurrency limit of a task (events/limiter.py) to send `request` on
    once fewer than `limit` runs of the task hold a permit. Key: `limit:<task name>`."""

    request: TaskRequested
    limit: int

    @staticmethod
    def key_of(task_name: str) -> str:
        return LIMIT_KEY_PREFIX + task_name

    @property
    def pipeline_id(self) -> str:
        return self.key_of(self.request.task_name)


@dataclass(frozen=True, slots=True)
class PermitReleased:
    """The runs `request_ids` of `task_name` no longer hold (or wait for) permits. A pipeline
    that ends releases its runs of a task in one event: released one by one, a waiting run could
    be sent on in between."""

    task_name: str
    request_ids: tuple[str, ...]

    @property
    def pipeline_id(self) -> str:
        return PermitRequested.key_of(self.task_name)


InputEvent = (
    PipelineSubmitted
    | TaskSucceeded
    | TaskFailed
    | PipelineActionRequested
    | TimerElapsed
    | ScheduleDefined
    | PermitRequested
    | PermitReleased
)
# The events some pipeline folds: where decide emits one (a child's submission, a child's outcome
# for its parent, an action for a child), every driver routes it back to the orchestrator.
INPUT_TYPES = (
    PipelineSubmitted,
    TaskSucceeded,
    TaskFailed,
    PipelineActionRequested,
    TimerElapsed,
    ScheduleDefined,
    PermitRequested,
    PermitReleased,
)
# The events for the status topic, which the orchestrator sends a pipeline's together as one
# StatusEvents (its union, in this order).
STATUS_TYPES = (TaskStatusChanged, PipelineStatusChanged, TasksSkipped, RetryScheduled, SlaMissed)
Event = (
    InputEvent
    | TaskRequested
    | RetryScheduled
    | PipelineActionApplied
    | PipelineStatusChanged
    | TasksSkipped
    | PipelineFinished
    | SubmissionRejected
    | ScheduleUpdated
    | TaskStatusChanged
    | StatusEvents
    | SlaMissed
)

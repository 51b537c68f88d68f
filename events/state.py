"""PipelineState: everything the orchestrator knows about one pipeline, as frozen data.

Collections are `immutables.Map` (a HAMT): an update shares all but O(log n) of the structure,
so folding one result into a 10,000-branch pipeline costs the same as into a 10-branch one.
"""
from __future__ import annotations

import enum
import pickle
from dataclasses import MISSING, dataclass, fields
from typing import Any

from immutables import Map

from events.messages import PipelineSubmitted, TaskRequested
from events.plan import PipelinePlan
from events.status import PipelineStatus
from events.task_exception import TaskException

NO_VALUE: tuple[()] = ()  # what a non-fruitful step passes on: spreads into no arguments


@dataclass(frozen=True, slots=True)
class Success:
    value: Any
    state: Any
    kwargs: Any = None  # initial kwargs, only on the outcome a pipeline starts from


@dataclass(frozen=True, slots=True)
class Failure:
    error: TaskException
    state: Any


Outcome = Success | Failure


class TaskStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RETRY_WAIT = "RETRY_WAIT"
    AWAITING_CHILD = "AWAITING_CHILD"
    DONE = "DONE"  # outcome applied to its chain


@dataclass(frozen=True, slots=True)
class TaskRun:
    status: TaskStatus
    attempt: int
    request: TaskRequested | None = None  # kept while in flight: a retry re-sends it unchanged
    outcome: Outcome | None = None  # set by the fold, consumed by decide
    exception_mro: tuple[str, ...] = ()
    pause_after: bool = False
    failed: bool = False  # DONE: its own outcome was a failure (handled, or ending the pipeline)


@dataclass(frozen=True, slots=True)
class ChainRun:
    pos: int  # index of the entry running now (or next)
    outcome: Outcome  # input of the entry at `pos`
    before_finally: Outcome | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class GroupRun:
    input: Outcome
    started: int
    completed: int


@dataclass(frozen=True, slots=True)
class Compensation:
    """A completed task with a revert: what undoing it takes, should the pipeline fail."""

    uid: str
    revert_task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    state: Any
    worker_name: str | None


class Work(enum.Enum):
    """What the fold leaves for decide: the agenda entries' kinds."""

    START = "START"
    TASK_DONE = "TASK_DONE"  # (kind, uid)
    SPAWN_CHILD = "SPAWN_CHILD"  # (kind, uid, child spec)
    ACTION = "ACTION"  # (kind, PipelineActionRequested)
    REJECT_SUBMISSION = "REJECT_SUBMISSION"  # (kind, PipelineSubmitted)
    ABORT = "ABORT"  # (kind, InputRejected)


@dataclass(frozen=True, slots=True)
class PipelineState:
    pipeline_id: str
    run: int
    status: PipelineStatus
    submission: PipelineSubmitted
    plan: PipelinePlan
    chains: Map = Map()  # chain id -> ChainRun
    groups: Map = Map()  # group id -> GroupRun
    tasks: Map = Map()  # task uid -> TaskRun
    held: Map = Map()  # sequence -> TaskRequested held back while PAUSED
    next_held: int = 0
    timers: Map = Map()  # task uid -> due time of its retry
    sla_due: Map = Map()  # task uid -> when its run must have started (a SlaMissed after)
    children: Map = Map()  # child pipeline id -> uid of the task waiting for it
    seen_actions: Map = Map()  # action id -> True: an action applies once
    agenda: tuple[tuple[Any, ...], ...] = ()
    last_state: Any = None  # the most recent task state: what a finally gets on cancel
    outcome: Outcome | None = None  # set once finished
    finished_at: float | None = None  # when it finished: its last event's log time
    compensations: Map = Map()  # completion number -> Compensation: completed tasks with a revert
    reverting: Outcome | None = None  # while REVERTING: the failure the pipeline ends with
    revert_failures: tuple[str, ...] = ()  # reverts that failed, and why
    started_at: float | None = None  # when this run started: its submission's log time

    def evolve(self, **changes: Any) -> PipelineState:
        """`dataclasses.replace`, at a fraction of its cost (the fold evolves a state twice per
        result): a new state whose slots are set once each, the changed ones from `changes`,
        the others from this one, by a function written out for that set of changed fields."""
        names = tuple(changes)
        evolver = _EVOLVERS.get(names)
        if evolver is None:
            evolver = _EVOLVERS[names] = _evolver(names)
        return evolver(self, *changes.values())

    def without_progress(self) -> PipelineState:
        """What a finished pipeline must keep (its submission, status and outcome) without the
        records of its tasks: for a state too large to store."""
        return self.evolve(chains=Map(), groups=Map(), tasks=Map(), children=Map(), last_state=None, compensations=Map())

    def __reduce__(self) -> tuple[Any, ...]:
        # The plan is an index derived from the submitted spec: persist everything else and
        # rebuild it on load (it is most of the bytes of a wide pipeline). The submission goes
        # in pickled once (it never changes), not again with every store.
        # Fields still at their defaults (a small pipeline's empty maps: each pickles at a few µs)
        # are left out; the constructor gives them back.
        values = {}
        for name in _STORED_FIELDS:
            value = getattr(self, name)
            default = _DEFAULTS.get(name, _NO_DEFAULT)
            at_default = value is default or (  # (inline, not a function: every store runs this)
                type(value) is type(default) and (not value if type(value) is Map else value == default)
            )
            if not at_default:
                values[name] = value
        return (_restore, (values, _pickled_submission(self.submission)))

    @property
    def root_pipeline_id(self) -> str:
        return self.submission.root_pipeline_id or self.pipeline_id


_FIELD_NAMES = tuple(f.name for f in fields(PipelineState))
_SLOT_OF = {name: PipelineState.__dict__[name] for name in _FIELD_NAMES}


def _evolver(changed: tuple[str, ...]) -> Any:
    """A function making a state from `state` with the fields `changed` given as arguments, its
    slots set one by one through their own descriptors (which a frozen dataclass's __setattr__
    does not guard), each setter bound once as a default argument: a loop over the slots took
    10 µs a copy, this about 3."""
    unknown = [name for name in changed if name not in _SLOT_OF]
    if unknown:
        raise TypeError(f"PipelineState has no field {unknown[0]!r}")
    setters = ", ".join(f"set_{name}=_SLOT_OF[{name!r}].__set__" for name in _FIELD_NAMES)
    arguments = "".join(f", new_{name}" for name in changed)
    body = "".join(
        f"    set_{name}(new, {'new_' + name if name in changed else 'state.' + name})\n" for name in _FIELD_NAMES
    )
    source = (f"def evolved(state{arguments}, *, new_state=object.__new__, {setters}):\n"
              f"    new = new_state(PipelineState)\n{body}    return new\n")
    namespace = {"_SLOT_OF": _SLOT_OF, "PipelineState": PipelineState}
    exec(source, namespace)  # noqa: S102 (source made above from the dataclass's own field names)
    return namespace["evolved"]


# Changed field names (in the order given) -> their evolver: a handful of sets, from the fold and
# decide's few call sites.
_EVOLVERS: dict[tuple[str, ...], Any] = {}
_STORED_FIELDS = tuple(f.name for f in fields(PipelineState) if f.name not in ("plan", "submission"))
_NO_DEFAULT = object()
_DEFAULTS = {f.name: f.default for f in fields(PipelineState) if f.default is not MISSING}


def _restore(values: dict[str, Any], submission: bytes | None = None) -> PipelineState:
    if submission is not None:  # (states stored before the submission was pickled apart hold it)
        values = {**values, "submission": pickle.loads(submission)}
    return PipelineState(plan=PipelinePlan.of(values["submission"].spec), **values)


# A submission never changes, yet each store of its pipeline pickled it again (most of a wide
# pipeline's bytes; a fifth of a small one's time): the pickled bytes of recent ones are kept,
# keyed by the object (every state of a pipeline shares it; the entry holds it, so its id is not
# reused while cached), up to a number (the objects they keep alive) and a budget of bytes.
_SUBMISSIONS: dict[int, tuple[PipelineSubmitted, bytes]] = {}
_SUBMISSIONS_KEPT = 2048
_SUBMISSIONS_BUDGET = 32 * 1024**2
_submissions_bytes = [0]


def _pickled_submission(submission: PipelineSubmitted) -> bytes:
    kept = _SUBMISSIONS.get(id(submission))
    if kept is not None and kept[0] is submission:
        return kept[1]
    data = pickle.dumps(submission, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > _SUBMISSIONS_BUDGET:
        return data
    while _SUBMISSIONS and (len(_SUBMISSIONS) >= _SUBMISSIONS_KEPT or _submissions_bytes[0] + len(data) > _SUBMISSIONS_BUDGET):
        _, dropped = _SUBMISSIONS.pop(next(iter(_SUBMISSIONS)))  # the oldest
        _submissions_bytes[0] -= len(dropped)
    _SUBMISSIONS[id(submission)] = (submission, data)
    _submissions_bytes[0] += len(data)
    return data


def new_state(event: PipelineSubmitted, run: int) -> PipelineState:
    return PipelineState(
        pipeline_id=event.pipeline_id,
        run=run,
        status=PipelineStatus.PENDING,
        submission=event,
        plan=PipelinePlan.of(event.spec),
        agenda=((Work.START,),),
    )

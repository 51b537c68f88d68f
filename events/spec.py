"""The wire model of a pipeline: what a client submits, immutable once built.

A pipeline is a chain of entries; an entry is a task or a group of chains run in parallel.
The builder in `streams.builder` produces these; the fold only reads them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

BUILTIN_FLATTEN = "__builtins.flatten_results"
# Graph flows (streams/graph.py): the named inputs become the store (a dict); a group's first
# branch carries the store past the level; the merge adds each branch's result under its name.
BUILTIN_GRAPH_INPUTS = "__builtins.graph_inputs"
BUILTIN_IDENTITY = "__builtins.identity"
BUILTIN_GRAPH_MERGE = "__builtins.graph_merge"
# The engine's own steps: decide computes them without a worker, and views leave them out.
BUILTINS = frozenset({BUILTIN_FLATTEN, BUILTIN_GRAPH_INPUTS, BUILTIN_IDENTITY, BUILTIN_GRAPH_MERGE})


def is_builtin(task_name: str) -> bool:
    return task_name in BUILTINS


class EntryKind(enum.Enum):
    NORMAL = "NORMAL"
    EXCEPTIONALLY = "EXCEPTIONALLY"
    FINALLY = "FINALLY"


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """A `RetryPolicy` as data: exception classes travel as qualified names."""

    retry_for: tuple[str, ...] = ("builtins.Exception",)
    max_retries: int = 1
    delay_ms: float = 0.0
    exponential_back_off: bool = False

    def matches(self, exception_mro: tuple[str, ...]) -> bool:
        # Names of the whole MRO travel with a failure, so a subclass matches its base.
        return any(name in exception_mro for name in self.retry_for)

    def delay_for(self, retry_count: int) -> float:
        """Seconds to wait before retry number `retry_count` (1 for the first retry)."""
        factor = 2**retry_count if self.exponential_back_off else 1
        return self.delay_ms * factor / 1000.0


@dataclass(frozen=True, slots=True)
class TaskEntry:
    uid: str
    task_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind: EntryKind = EntryKind.NORMAL
    is_fruitful: bool = True
    retry: RetrySpec | None = None
    worker_name: str | None = None
    display_name: str | None = None
    is_wait: bool = False
    revert: str | None = None  # the task that undoes this one if the pipeline fails (TaskFlow's revert)
    requires: tuple[str, ...] | None = None  # a graph step: its keyword arguments, by name, from the store
    sla_s: float | None = None  # a SlaMissed event if a run has not started this long after its request
    concurrency: int | None = None  # at most this many runs at once, across pipelines (events/limiter.py)


@dataclass(frozen=True, slots=True)
class GroupEntry:
    group_id: str
    chains: tuple[PipelineSpec, ...]
    max_parallelism: int | None = None
    return_exceptions: bool = False
    is_wait: bool = False
    # A level of a graph flow (streams/graph.py): one failing step fails it with its own error,
    # as TaskFlow raises it; several with the aggregate, as any group.
    graph_level: bool = False


Entry = TaskEntry | GroupEntry


@dataclass(frozen=True, slots=True)
class Initial:
    """`with_initial(...)`: each part is optional, and `None` is a real value, hence the flags."""

    args: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    has_args: bool = False
    has_kwargs: bool = False
    has_state: bool = False


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    entries: tuple[Entry, ...]
    inline: bool = False
    initial: Initial = field(default_factory=Initial)


def iter_tasks(spec: PipelineSpec) -> list[TaskEntry]:
    """Every task of a pipeline, nested groups included, in declaration order."""
    found: list[TaskEntry] = []
    stack: list[Entry] = list(reversed(spec.entries))
    while stack:
        entry = stack.pop()
        if isinstance(entry, TaskEntry):
            found.append(entry)
        else:
            for chain in reversed(entry.chains):
                stack.extend(reversed(chain.entries))
    return found


def validate(spec: PipelineSpec) -> list[str]:
    """The reasons a pipeline cannot run; empty when it can. Messages follow Flink Tasks."""
    errors: list[str] = []
    if not spec.entries:
        errors.append("the pipeline is empty: start it with task.send(...) or in_parallel([...])")
    tasks = iter_tasks(spec)
    uids = [t.uid for t in tasks]
    if len(set(uids)) != len(uids):
        errors.append("Task uids must be unique")
    group_ids = _group_ids(spec)
    if len(set(group_ids)) != len(group_ids):
        errors.append("Group ids must be unique")
    finals = [t for t in tasks if t.kind is EntryKind.FINALLY]
    if len(finals) > 1:
        errors.append('Cannot have more than one "finally_do" task')
    if finals and spec.entries and spec.entries[-1] is not finals[0]:
        errors.append('"finally_do" must be called at the end of the pipeline')
    return errors


def _group_ids(spec: PipelineSpec) -> list[str]:
    ids: list[str] = []
    stack = list(spec.entries)
    while stack:
        entry = stack.pop()
        if isinstance(entry, GroupEntry):
            ids.append(entry.group_id)
            for chain in entry.chains:
                stack.extend(chain.entries)
    return ids

"""PipelineBuilder and in_parallel: Celery-style chains and groups, built into a PipelineSpec."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from events.errors import PipelineDefinitionError
from events.spec import (
    BUILTIN_FLATTEN,
    Entry,
    EntryKind,
    GroupEntry,
    Initial,
    PipelineSpec,
    TaskEntry,
    validate,
)
from events.values import ensure_carriable
from streams.ids import new_id

if TYPE_CHECKING:
    from streams.retry import RetryPolicy

_UNSET: Any = Ellipsis


class PipelineBuilder:
    """A pipeline under construction. Methods append to it and return it, so calls chain."""

    def __init__(self, entries: list[Entry] | None = None) -> None:
        self.id: str = new_id()
        self._entries: list[Entry] = list(entries or [])
        self._inline = False
        self._initial = Initial()

    # -- building ----------------------------------------------------------------------------

    def send(self, task: Any, *args: Any, **kwargs: Any) -> PipelineBuilder:
        self._entries.append(_task_entry(task, args, kwargs, EntryKind.NORMAL))
        return self

    def continue_with(self, continuation: Any, *args: Any, **kwargs: Any) -> PipelineBuilder:
        """Run `continuation` next; it receives this step's result before its own arguments."""
        if isinstance(continuation, PipelineBuilder):
            if args or kwargs:
                raise PipelineDefinitionError(
                    "continue_with(pipeline) takes no extra arguments: bind them on its tasks"
                )
            continuation._check_no_initial()
            self._entries.extend(continuation._entries)
            return self
        return self.send(continuation, *args, **kwargs)

    def continue_if(self, condition: Any, continuation: Any, *args: Any, **kwargs: Any) -> PipelineBuilder:
        """Append `continuation` only if `condition` is truthy now (at build time)."""
        return self.continue_with(continuation, *args, **kwargs) if condition else self

    def exceptionally(self, task: Any, *args: Any, **kwargs: Any) -> PipelineBuilder:
        """Handle a failure of the steps before: `task(task_exception, *args, **kwargs)`."""
        self._entries.append(_task_entry(task, args, kwargs, EntryKind.EXCEPTIONALLY))
        return self

    def finally_do(self, task: Any, *args: Any, **kwargs: Any) -> PipelineBuilder:
        """Always run `task(*args, **kwargs)` last: on success, failure or cancel."""
        entry = _task_entry(task, args, kwargs, EntryKind.FINALLY)
        self._entries.append(replace(entry, is_fruitful=False))
        return self

    def set(
        self,
        retry_policy: RetryPolicy | None = None,
        worker_name: str | None = None,
        is_fruitful: bool | None = None,
        display_name: str | None = None,
    ) -> PipelineBuilder:
        """Override properties of the last task appended."""
        if not self._entries or not isinstance(self._entries[-1], TaskEntry):
            raise PipelineDefinitionError("set() must be applied to a task")
        last = self._entries[-1]
        changes: dict[str, Any] = {}
        if retry_policy is not None:
            changes["retry"] = retry_policy.to_spec()
        if worker_name is not None:
            changes["worker_name"] = worker_name
        if is_fruitful is not None:
            changes["is_fruitful"] = is_fruitful
        if display_name is not None:
            changes["display_name"] = display_name
        self._entries[-1] = replace(last, **changes)
        return self

    def wait(self) -> PipelineBuilder:
        """Pause the pipeline once the last entry (task or group) completes."""
        if not self._entries:
            raise PipelineDefinitionError(
                "wait() must be applied to a task or group not an empty pipeline"
            )
        self._entries[-1] = replace(self._entries[-1], is_wait=True)
        return self

    def with_initial(self, args: Any = _UNSET, kwargs: Any = _UNSET, state: Any = _UNSET) -> PipelineBuilder:
        """Arguments, keyword arguments and state for the first task(s), set once."""
        initial = self._initial
        if args is not _UNSET:
            ensure_carriable(args, "with_initial(args=...)")
            initial = replace(initial, args=args, has_args=True)
        if kwargs is not _UNSET:
            if not isinstance(kwargs, dict):
                raise PipelineDefinitionError("with_initial(kwargs=...) takes a dict")
            ensure_carriable(kwargs, "with_initial(kwargs=...)")
            initial = replace(initial, kwargs=kwargs, has_kwargs=True)
        if state is not _UNSET:
            ensure_carriable(state, "with_initial(state=...)")
            initial = replace(initial, state=state, has_state=True)
        self._initial = initial
        return self

    def inline(self, is_inline: bool = True) -> PipelineBuilder:
        """Run as part of the parent's flow: inherit its state and hand back the final state."""
        self._inline = is_inline
        return self

    # -- reading -----------------------------------------------------------------------------

    @property
    def is_inline(self) -> bool:
        return self._inline

    @property
    def has_initial_parameters(self) -> bool:
        i = self._initial
        return i.has_args or i.has_kwargs or i.has_state

    def is_empty(self) -> bool:
        return not self._entries

    def validate(self) -> PipelineBuilder:
        errors = validate(self.to_spec())
        if errors:
            raise PipelineDefinitionError("Invalid pipeline: " + ", ".join(errors))
        return self

    def to_spec(self) -> PipelineSpec:
        return PipelineSpec(tuple(self._entries), self._inline, self._initial)

    def _check_no_initial(self) -> None:
        if self.has_initial_parameters:
            raise PipelineDefinitionError(
                "Ambiguous initial parameters: a pipeline with with_initial(...) cannot be merged "
                "into another; set the initial parameters on the outer pipeline instead"
            )

    def __repr__(self) -> str:
        return f"PipelineBuilder(id={self.id!r}, entries={len(self._entries)})"


def in_parallel(
    entries: list[Any],
    max_parallelism: int | None = None,
    num_stages: int | None = None,
    return_exceptions: bool = False,
) -> PipelineBuilder:
    """Run chains concurrently; the result is a list with one element per chain, in order.

    Args:
        entries: pipelines (e.g. `task.send(x)` or `in_parallel([...])`) to run side by side.
        max_parallelism: at most this many chains of this group run at once.
        num_stages: split a large group into this many stages (map/reduce style); the result has
            the same shape and order as without stages.
        return_exceptions: failed chains put their TaskException in the list instead of failing
            the group.
    """
    if max_parallelism is not None and max_parallelism < 1:
        raise PipelineDefinitionError("in_parallel(max_parallelism=...) must be 1 or more")
    chains = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, PipelineBuilder):
            raise PipelineDefinitionError(
                f"in_parallel entry {i} is a {type(entry).__name__}, not a pipeline: "
                "write task.send(...) rather than task(...)"
            )
        entry._check_no_initial()
        chains.append(entry.to_spec())
    if num_stages and num_stages > 1 and len(chains) > 1:
        return _staged(chains, max_parallelism, num_stages, return_exceptions)
    return PipelineBuilder([GroupEntry(new_id(), tuple(chains), max_parallelism, return_exceptions)])


def _staged(
    chains: list[PipelineSpec], max_parallelism: int | None, stages: int, return_exceptions: bool
) -> PipelineBuilder:
    # Each stage is an inline sub-group over one slice; a builtin flatten restores the shape.
    chunk = max(math.ceil(len(chains) / stages), 1)
    per_stage = None if max_parallelism is None else max(int(max_parallelism / stages), 1)
    stage_chains = tuple(
        PipelineSpec(
            (GroupEntry(new_id(), tuple(chains[i : i + chunk]), per_stage, return_exceptions),),
            inline=True,
        )
        for i in range(0, len(chains), chunk)
    )
    if len(stage_chains) == 1:
        return PipelineBuilder([GroupEntry(new_id(), tuple(chains), max_parallelism, return_exceptions)])
    outer = GroupEntry(new_id(), stage_chains, max_parallelism, return_exceptions)
    return PipelineBuilder([outer, TaskEntry(new_id(), BUILTIN_FLATTEN)])


def _task_entry(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], kind: EntryKind) -> TaskEntry:
    from streams.task import BoundTask

    if not isinstance(task, BoundTask):
        name = getattr(task, "__qualname__", repr(task))
        raise PipelineDefinitionError(
            f"{name} is not a Kafka Tasks task: decorate it with @tasks.bind() before sending it"
        )
    return task.entry(args, kwargs, kind)

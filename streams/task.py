"""BoundTask: a plain function, still callable, that can also be sent as a pipeline step."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from events.spec import EntryKind, RetrySpec, TaskEntry
from events.values import ensure_carriable
from streams.ids import new_id

if TYPE_CHECKING:
    from streams.builder import PipelineBuilder


@dataclass(frozen=True)
class Signature:
    """How to bind a request's arguments, computed once per task instead of once per call."""

    positional: tuple[tuple[str, Any], ...]  # (name, default or EMPTY)
    has_var_args: bool
    text: str

    @staticmethod
    def of(fn: Callable[..., Any]) -> Signature:
        sig = inspect.signature(fn)
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        positional = tuple((p.name, p.default) for p in sig.parameters.values() if p.kind in kinds)
        var_args = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values())
        return Signature(positional, var_args, str(sig))


EMPTY = inspect.Parameter.empty


class BoundTask:
    """A function registered with `@tasks.bind()`.

    Calling it runs the function directly (handy in tests); `send(...)` starts a pipeline with it.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        *,
        with_state: bool,
        is_fruitful: bool,
        retry: RetrySpec | None,
        worker_name: str | None,
        display_name: str | None,
        with_context: bool,
        timeout: float | None = None,
        revert: str | None = None,
        provides: str | None = None,
        requires: tuple[str, ...] | None = None,
        sla: float | None = None,
        concurrency: int | None = None,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name
        self.with_state = with_state
        self.is_fruitful = is_fruitful
        self.retry = retry
        self.worker_name = worker_name
        self.display_name = display_name
        self.with_context = with_context
        self.timeout = timeout
        self.revert = revert  # the name of the task that undoes this one
        self.provides = provides  # in a graph: the name of its result
        self.requires = requires  # in a graph: its inputs' names (None: its parameters' names)
        self.sla = sla  # seconds a run may wait to start before a SlaMissed event
        self.concurrency = concurrency  # at most this many runs at once, across all pipelines
        self.signature = Signature.of(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> PipelineBuilder:
        from streams.builder import PipelineBuilder

        return PipelineBuilder().send(self, *args, **kwargs)

    def entry(self, args: tuple[Any, ...], kwargs: dict[str, Any], kind: EntryKind) -> TaskEntry:
        for i, arg in enumerate(args):
            ensure_carriable(arg, f"argument {i} of task {self.name}")
        for key, value in kwargs.items():
            ensure_carriable(value, f"argument {key!r} of task {self.name}")
        return TaskEntry(
            uid=new_id(),
            task_name=self.name,
            args=tuple(args),
            kwargs=dict(kwargs),
            kind=kind,
            is_fruitful=self.is_fruitful,
            retry=self.retry,
            worker_name=self.worker_name,
            display_name=self.display_name,
            revert=self.revert,
            sla_s=self.sla,
            concurrency=self.concurrency,
        )

    @property
    def type_name(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<task {self.name}>"

"""Run one TaskRequested against the registered functions: the worker's job, for both drivers.

Every failure, including a missing task or an unsendable result, comes back as a `TaskFailed`
event with a message that says what to do; nothing here raises into the caller.
"""
from __future__ import annotations

import asyncio
import inspect
import traceback
from typing import TYPE_CHECKING, Any

from events.errors import PipelineDefinitionError, TaskTimeoutError
from events.messages import TaskFailed, TaskRequested, TaskStatusChanged, TaskSucceeded
from events.spec import validate
from events.task_exception import TaskException
from events.values import ensure_carriable
from streams.builder import PipelineBuilder
from streams.context import TaskContext
from streams.effects import PausePipeline
from streams.retry import qualified_name
from streams.task import EMPTY, BoundTask
from streams.task_threads import TaskThreads

if TYPE_CHECKING:
    from streams.app import KafkaTasks


async def execute(tasks: KafkaTasks, request: TaskRequested, threads: TaskThreads | None = None) -> TaskSucceeded | TaskFailed:
    """Run `request`. With `threads` (a worker's), a plain function runs in one of them, so a
    worker runs up to `worker_concurrency` of them side by side, as a Celery worker would; without
    (in-process), in this thread, unless it has a timeout."""
    try:
        task = tasks.get_task(request.task_name)
        args, kwargs = bind_arguments(task, request)
        returned = await _run(task, args, kwargs, threads)
        return _succeeded(task, request, returned)
    except Exception as ex:  # the task's failure is data for the pipeline, not our crash
        return failed(request, ex)


def started(request: TaskRequested) -> TaskStatusChanged:
    """The STARTED transition a worker announces when it begins a request."""
    return _transition(request, "STARTED")


def ended(request: TaskRequested, outcome: TaskSucceeded | TaskFailed) -> TaskStatusChanged:
    """SUCCEEDED or FAILED, as the worker that ran the request saw it."""
    if isinstance(outcome, TaskFailed):
        return _transition(request, "FAILED", outcome.error.exception_message)
    return _transition(request, "SUCCEEDED")


def _transition(request: TaskRequested, status: str, message: str = "") -> TaskStatusChanged:
    return TaskStatusChanged(request.pipeline_id, request.run, request.uid, request.task_name, request.attempt, status, message)


def failed(request: TaskRequested, ex: BaseException) -> TaskFailed:
    error = TaskException(
        task_id=request.uid,
        exception_type=qualified_name(type(ex)),
        exception_message=str(ex),
        stacktrace="".join(traceback.format_exception(ex)),
    )
    mro = tuple(qualified_name(c) for c in type(ex).__mro__)
    # A failed task hands on the state it was given: its mutations are lost.
    return TaskFailed(
        request.pipeline_id, request.run, request.uid, request.attempt, error, request.state, mro
    )


def bind_arguments(task: BoundTask, request: TaskRequested) -> tuple[list[Any], dict[str, Any]]:
    """Match positional values to parameters the way Flink Tasks does (kwargs win by name)."""
    pending = list(request.args)
    if task.with_state:
        pending.insert(0, request.state)
    if task.with_context:
        pending.insert(0, TaskContext(request))
    kwargs = dict(request.kwargs)
    bound: list[Any] = []
    for name, default in task.signature.positional:
        if name in kwargs:
            bound.append(kwargs.pop(name))
        elif not pending and default is not EMPTY:
            bound.append(default)
        elif pending:
            bound.append(pending.pop(0))
        else:
            raise ValueError(
                f"Not enough args supplied: task {task.name}{task.signature.text} got "
                f"{len(request.args)} positional argument(s); bind the missing ones in send(...)"
            )
    if pending:
        if not task.signature.has_var_args:
            raise ValueError(
                f"Too many args supplied: task {task.name}{task.signature.text} got "
                f"{len(pending)} more than it takes (the previous step's result comes first)"
            )
        bound.extend(pending)
    return bound, kwargs


async def _run(task: BoundTask, args: list[Any], kwargs: dict[str, Any], threads: TaskThreads | None) -> Any:
    is_async = inspect.iscoroutinefunction(task.fn) or inspect.isasyncgenfunction(task.fn)
    if is_async or (threads is None and task.timeout is None):
        call = _called(task, args, kwargs)
    else:  # a plain function can only be timed in a thread, and a thread cannot be stopped
        call = _in_thread(task, args, kwargs, threads)
    if task.timeout is None:
        return await call
    try:
        return await asyncio.wait_for(call, task.timeout)
    except TimeoutError:
        abandoned = "" if is_async else " (a plain function cannot be stopped: its thread runs on, its result is dropped)"
        raise TaskTimeoutError(
            f"task {task.name} ran longer than its timeout of {task.timeout:g} s{abandoned}. "
            "Raise `timeout` in @tasks.bind, or retry with RetryPolicy(retry_for=[TaskTimeoutError])."
        ) from None


async def _called(task: BoundTask, args: list[Any], kwargs: dict[str, Any]) -> Any:
    returned = task.fn(*args, **kwargs)
    if inspect.isawaitable(returned):
        returned = await returned
    return await _materialise(returned)


async def _in_thread(task: BoundTask, args: list[Any], kwargs: dict[str, Any], threads: TaskThreads | None) -> Any:
    if threads is not None:
        returned = await threads.run(_called_in_thread, task, args, kwargs)
    else:  # in-process, a plain function with a timeout: asyncio's default threads
        returned = await asyncio.get_running_loop().run_in_executor(None, _called_in_thread, task, args, kwargs)
    if inspect.isawaitable(returned):  # a plain function that returned a coroutine
        returned = await returned
    return returned


def _called_in_thread(task: BoundTask, args: list[Any], kwargs: dict[str, Any]) -> Any:
    returned = task.fn(*args, **kwargs)
    return list(returned) if inspect.isgenerator(returned) else returned


async def _materialise(value: Any) -> Any:
    # Generators are lists by the time they travel.
    if inspect.isasyncgen(value):
        return [item async for item in value]
    if inspect.isgenerator(value):
        return list(value)
    return value


def _succeeded(task: BoundTask, request: TaskRequested, returned: Any) -> TaskSucceeded:
    pause = isinstance(returned, PausePipeline)
    if pause:
        returned = returned.results if len(returned.results) != 1 else returned.results[0]
    items = returned if type(returned) is tuple else (returned,)  # a NamedTuple is one value
    state = request.state
    if task.with_state:
        state, items = (items[0], items[1:]) if items else (None, ())
    result: Any = items[0] if len(items) == 1 else items
    if isinstance(result, PipelineBuilder):
        errors = validate(result.to_spec())
        if errors:
            raise PipelineDefinitionError(
                f"task {task.name} returned an invalid pipeline: " + ", ".join(errors)
            )
        ensure_carriable(state, f"the state returned by task {task.name}")
        return TaskSucceeded(
            request.pipeline_id, request.run, request.uid, request.attempt, None, state,
            child=result.to_spec(),
        )
    if not (task.is_fruitful and request.is_fruitful):
        result = ()
    elif isinstance(result, tuple) and type(result) is not tuple:
        # A NamedTuple is one value when returned, but Avro carries it as a plain tuple; convert
        # here so both drivers hand the next step the same thing.
        result = tuple(result)
    ensure_carriable(result, f"the result of task {task.name}")
    ensure_carriable(state, f"the state returned by task {task.name}")
    return TaskSucceeded(
        request.pipeline_id, request.run, request.uid, request.attempt, result, state, pause=pause
    )

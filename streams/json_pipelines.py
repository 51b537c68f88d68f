"""Pipelines described as JSON, as the REST API takes them, built with the ordinary builder.

    step     := {"task": "module.function", "args": [...], "kwargs": {...}}
              | {"chain": [step, ...]}                       one after the other
              | {"parallel": [step, ...], "max_parallelism": n, "num_stages": n, "return_exceptions": b}
    pipeline := step, optionally with "id" (a pipeline id of your choosing)

A chain's later steps receive the previous result, as `continue_with` does. Task names are the
names workers register (`module.function`); with the app known (the orchestrator started with
`-A`), each name is checked and its binding (worker name, retries, revert, limits) applies;
without it, tasks go to the default workers as named. Arguments are JSON values.
"""
from __future__ import annotations

from typing import Any

from events.errors import PipelineDefinitionError
from events.spec import EntryKind, TaskEntry
from events.values import ensure_carriable
from streams.builder import PipelineBuilder, in_parallel
from streams.ids import new_id

_PARALLEL_OPTIONS = ("max_parallelism", "num_stages", "return_exceptions")


def pipeline_from_json(body: Any, tasks: Any = None) -> PipelineBuilder:
    """The pipeline `body` describes, or PipelineDefinitionError naming the part that is wrong
    (as a path: `pipeline.parallel[2].task`). `tasks`: the app's KafkaTasks, if known."""
    if not isinstance(body, dict):
        raise PipelineDefinitionError(f"pipeline: expected a JSON object, got {_kind(body)}")
    pipeline = _step(body, "pipeline", tasks, allowed=frozenset({"id"}))
    if "id" in body:
        if not isinstance(body["id"], str) or not body["id"]:
            raise PipelineDefinitionError("pipeline.id: expected a non-empty string")
        pipeline.id = body["id"]
    return pipeline.validate()


def _step(step: Any, path: str, tasks: Any, allowed: frozenset[str] = frozenset()) -> PipelineBuilder:
    if not isinstance(step, dict):
        raise PipelineDefinitionError(f"{path}: expected a step (an object with task, chain or parallel), got {_kind(step)}")
    kinds = [k for k in ("task", "chain", "parallel") if k in step]
    if len(kinds) != 1:
        raise PipelineDefinitionError(f"{path}: a step has exactly one of task, chain or parallel (found {kinds or 'none'})")
    kind = kinds[0]
    known = {"task": {"task", "args", "kwargs"}, "chain": {"chain"}, "parallel": {"parallel", *_PARALLEL_OPTIONS}}[kind]
    unknown = sorted(set(step) - known - allowed)
    if unknown:
        raise PipelineDefinitionError(f"{path}: unknown field(s) {', '.join(unknown)} for a {kind} step")
    if kind == "task":
        return PipelineBuilder([_task(step, path, tasks)])
    items = step[kind]
    if not isinstance(items, list) or (kind == "chain" and not items):
        raise PipelineDefinitionError(f"{path}.{kind}: expected a {'non-empty ' if kind == 'chain' else ''}list of steps")
    parts = [_step(item, f"{path}.{kind}[{i}]", tasks) for i, item in enumerate(items)]
    if kind == "chain":
        first, *rest = parts
        for part in rest:
            first.continue_with(part)
        return first
    options = {name: step[name] for name in _PARALLEL_OPTIONS if name in step}
    for name in ("max_parallelism", "num_stages"):
        if name in options and (not isinstance(options[name], int) or isinstance(options[name], bool) or options[name] < 1):
            raise PipelineDefinitionError(f"{path}.{name}: expected a whole number of 1 or more")
    if not isinstance(options.get("return_exceptions", False), bool):
        raise PipelineDefinitionError(f"{path}.return_exceptions: expected true or false")
    return in_parallel(parts, **options)


def _task(step: dict[str, Any], path: str, tasks: Any) -> TaskEntry:
    name, args, kwargs = step["task"], step.get("args", []), step.get("kwargs", {})
    if not isinstance(name, str) or not name:
        raise PipelineDefinitionError(f"{path}.task: expected a task name (module.function), got {_kind(name)}")
    if not isinstance(args, list):
        raise PipelineDefinitionError(f"{path}.args: expected a list of arguments, got {_kind(args)}")
    if not isinstance(kwargs, dict):
        raise PipelineDefinitionError(f"{path}.kwargs: expected an object of named arguments, got {_kind(kwargs)}")
    for i, arg in enumerate(args):
        ensure_carriable(arg, f"{path}.args[{i}]")
    for key, value in kwargs.items():
        ensure_carriable(value, f"{path}.kwargs.{key}")
    if tasks is None:
        return TaskEntry(new_id(), name, tuple(args), dict(kwargs))
    if name not in tasks.task_names:
        raise PipelineDefinitionError(
            f"{path}.task: {name} is not a task of app {tasks.app_id!r}; its tasks are: {', '.join(tasks.task_names)}"
        )
    entry: TaskEntry = tasks.get_task(name).entry(tuple(args), dict(kwargs), EntryKind.NORMAL)
    return entry


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), "null")

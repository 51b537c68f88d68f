"""A pipeline's state as JSON, for the REST API and the dashboard: its steps as a tree (chains in
sequence, parallel groups side by side), each task's status, and what is known of its runs.

Values are rendered for people: JSON where they are JSON already, `repr` otherwise, long ones
cut (a 10,000-element result would make a page of megabytes).
"""
from __future__ import annotations

import base64
import itertools
import reprlib
from typing import Any

from events.schedule import ScheduleState
from events.spec import GroupEntry, PipelineSpec, TaskEntry, is_builtin, iter_tasks
from events.state import Failure, PipelineState, Success, TaskStatus
from events.task_exception import TaskException

MAX_ITEMS = 50  # of a list or dict shown
MAX_TEXT = 2_000  # characters of a string shown
MAX_DEPTH = 6  # nesting levels shown
MAX_TOTAL = 20_000  # characters (about) of one value shown, all levels together
MAX_STACKTRACE = 20_000  # characters of a traceback shown: its end, where the error is

# A task's status as the page shows it, from its run in the state (DONE: SUCCEEDED unless it
# failed; the activity knows better, a revert's fate too).
_SHOWN = {
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.AWAITING_CHILD: "RUNNING",
    TaskStatus.RETRY_WAIT: "RETRYING",
    TaskStatus.SUCCEEDED: "SUCCEEDED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.DONE: "SUCCEEDED",
}


def pipeline_json(state: PipelineState, activity: dict[str, dict[str, Any]], max_branches: int | None = None) -> dict[str, Any]:
    """Everything the pipeline page shows. `activity`: uid -> what the replica saw of that task
    (agents/task_activity.py), maybe nothing. `max_branches`: of each parallel group, show only
    the first ones (the rest are counted in its `hidden_branches`): a 10,000-wide fan-out's
    whole tree is 2 MB and 0.2 s of the orchestrator's loop to render."""
    finished = state.status.is_finished
    document: dict[str, Any] = {
        "pipeline_id": state.pipeline_id,
        "run": state.run,
        "status": state.status.name,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "root_pipeline_id": state.root_pipeline_id,
        "parent": None if state.submission.parent is None else state.submission.parent.pipeline_id,
        "children": {child: uid for child, uid in state.children.items()},
        "steps": _chain(state.submission.spec, state, activity, finished, max_branches),
    }
    counts: dict[str, int] = {}
    for entry in iter_tasks(state.submission.spec):  # every task, shown or not
        if not is_builtin(entry.task_name):
            status = _status(entry, state, activity.get(entry.uid, {}), finished)
            counts[status] = counts.get(status, 0) + 1
    document["task_counts"] = counts
    if isinstance(state.outcome, Success):
        document["result"] = jsonable(state.outcome.value)
    elif isinstance(state.outcome, Failure):
        document["error"] = error_json(state.outcome.error)
    if state.revert_failures:
        document["revert_failures"] = list(state.revert_failures)
    return document


def result_json(state: PipelineState) -> dict[str, Any]:
    if isinstance(state.outcome, Success):
        return {"pipeline_id": state.pipeline_id, "status": state.status.name, "result": jsonable(state.outcome.value)}
    assert isinstance(state.outcome, Failure)
    return {"pipeline_id": state.pipeline_id, "status": state.status.name, "error": error_json(state.outcome.error)}


def schedule_summary(state: ScheduleState) -> dict[str, Any]:
    definition = state.definition
    return {
        "name": definition.name,
        "cron": definition.cron,
        "status": state.status.name,
        "next_slot": state.next_slot,
        "last_slot": state.last_slot,
        "runs": state.runs,
        "catch_up": definition.catch_up,
        "start_at": definition.start_at,
        "end_at": definition.end_at,
        "tasks": sorted({t["name"] for t in _tasks(_chain(definition.spec, None, {}, False))}),
        "problem": state.problem or None,
    }


def error_json(error: TaskException) -> dict[str, Any]:
    stacktrace = error.stacktrace if len(error.stacktrace) <= MAX_STACKTRACE else "...\n" + error.stacktrace[-MAX_STACKTRACE:]
    return {"type": error.exception_type, "message": error.exception_message[:MAX_TEXT], "stacktrace": stacktrace}


def jsonable(value: Any) -> Any:
    """`value` for a person to read, as JSON, in at most about MAX_TOTAL characters however large
    it is (and in time to match: a large array is sliced, never converted whole)."""
    return _Rendering().render(value, 0)


class _Rendering:
    def __init__(self) -> None:
        self.budget = MAX_TOTAL

    def render(self, value: Any, depth: int) -> Any:
        if self.budget <= 0:
            return "..."
        if value is None or isinstance(value, (bool, int, float)):
            self.budget -= 8
            return value
        if isinstance(value, str):
            self.budget -= min(len(value), MAX_TEXT)
            return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"... ({len(value):,} characters)"
        if isinstance(value, bytes):
            self.budget -= min(len(value), MAX_TEXT) * 4 // 3
            return {"bytes_base64": base64.b64encode(value[:MAX_TEXT]).decode(), "length": len(value)}
        if isinstance(value, TaskException):
            self.budget -= len(value.stacktrace) + len(value.exception_message)
            return {"exception": error_json(value)}
        if hasattr(value, "dtype") and hasattr(value, "ndim"):  # numpy: arrays by their first axis, scalars as such
            if value.ndim == 0:
                return self.render(value.item(), depth)
            return self.sequence(value, len(value), depth)
        if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
            return self.sequence(value, len(value), depth)
        if depth < MAX_DEPTH and isinstance(value, dict) and all(isinstance(k, str) for k in value):
            shown: dict[str, Any] = {}
            for key, item in itertools.islice(value.items(), MAX_ITEMS):
                if self.budget <= 0:
                    break
                self.budget -= len(key)
                shown[key] = self.render(item, depth + 1)
            if len(shown) < len(value):
                shown["..."] = f"{len(value) - len(shown):,} more"
            return shown
        text = reprlib.repr(value)
        self.budget -= len(text)
        return {"repr": text}

    def sequence(self, value: Any, length: int, depth: int) -> list[Any]:
        shown = []
        for item in value[:MAX_ITEMS]:
            if self.budget <= 0:
                break
            shown.append(self.render(item, depth + 1))
        return shown + ([f"... ({length - len(shown):,} more)"] if length > len(shown) else [])


def _chain(spec: PipelineSpec, state: PipelineState | None, activity: dict[str, dict[str, Any]], finished: bool,
           max_branches: int | None = None) -> list[Any]:
    steps: list[Any] = []
    for entry in spec.entries:
        if isinstance(entry, GroupEntry):
            shown = entry.chains if max_branches is None else entry.chains[:max_branches]
            steps.append({
                "type": "parallel",
                "group_id": entry.group_id,
                "max_parallelism": entry.max_parallelism,
                "branches": [_chain(chain, state, activity, finished, max_branches) for chain in shown],
                "hidden_branches": len(entry.chains) - len(shown),
            })
        elif not is_builtin(entry.task_name):  # the engine's own steps (a staged group's flatten, a graph's merges)
            steps.append(_task(entry, state, activity.get(entry.uid, {}), finished))
    return steps


def _status(entry: TaskEntry, state: PipelineState | None, seen: dict[str, Any], finished: bool) -> str:
    run = None if state is None else state.tasks.get(entry.uid)
    if run is None:
        return "SKIPPED" if finished or seen.get("status") == "SKIPPED" else "PENDING"
    if run.status is TaskStatus.DONE:
        if seen.get("status") in ("FAILED", "REVERTED", "REVERT_FAILED"):
            return str(seen["status"])
        if run.failed:  # (what a replica that restarted still knows)
            return "FAILED"
    return _SHOWN[run.status]


def _task(entry: TaskEntry, state: PipelineState | None, seen: dict[str, Any], finished: bool) -> dict[str, Any]:
    run = None if state is None else state.tasks.get(entry.uid)
    task: dict[str, Any] = {
        "type": "task",
        "uid": entry.uid,
        "name": entry.display_name or entry.task_name,
        "task_name": entry.task_name,
        "kind": entry.kind.name,
        "status": _status(entry, state, seen, finished),
        "attempt": None if run is None else run.attempt,
        "args": jsonable(seen.get("args", entry.args)),
        "kwargs": jsonable(seen.get("kwargs", entry.kwargs)),
    }
    for field in ("requested_at", "started_at", "finished_at"):
        if seen.get(field) is not None:
            task[field] = seen[field]
    if "result" in seen and seen.get("error") is None:
        task["result"] = jsonable(seen["result"])
    if seen.get("error") is not None:
        task["error"] = seen["error"]  # (as error_json made it)
    elif seen.get("message"):
        task["message"] = seen["message"]
    return task


def _tasks(steps: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = list(reversed(steps))
    while stack:
        step = stack.pop()
        if step["type"] == "task":
            found.append(step)
        else:
            for branch in reversed(step["branches"]):
                stack.extend(reversed(branch))
    return found

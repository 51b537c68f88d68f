"""What each task of recent pipelines did: arguments, times, result or error, for the dashboard.

A pipeline's stored state keeps what the engine needs, not every finished task's arguments and
result (a 10,000-wide fan-out would carry them all in every store). Like Celery's Flower, the
dashboard shows them from memory instead: this replica records them as it folds and decides, for
its most recent pipelines (MAX_TASKS tasks in all, the oldest pipelines dropped first). After a
restart or a rebalance, a pipeline's page still shows each task's status from its state; details
appear for what runs from then on.

MAX_TASKS is Flower's default `max_tasks`. A task's record costs about 800 bytes (its arguments
and result as shown, its times; a single-task pipeline's, tracemalloc): 40 MB at 50,000, the
limit before, against the 150 MB an orchestrator starts with.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from agents.observer import Observer
from events import messages as m
from streams.pipeline_view import error_json, jsonable

MAX_TASKS = 10_000


class TaskActivity(Observer):
    """Fed as the orchestrator folds. Nothing is loaded with the table after partitions move
    (what a restarted replica cannot know stays unknown), and nothing is forgotten then: requests
    are routed to a pipeline's owner, which knows at least as much."""

    def __init__(self, max_tasks: int = MAX_TASKS) -> None:
        self.max_tasks = max_tasks
        self._pipelines: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()
        self._count = 0

    def of(self, pipeline_id: str) -> dict[str, dict[str, Any]]:
        """uid -> what is known of that task's latest run (empty if nothing)."""
        return self._pipelines.get(pipeline_id, {})

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        current = getattr(state, "run", None) == getattr(event, "run", None)  # a late outcome of a run before: not shown
        # Values are kept as shown (streams/pipeline_view.py): a few kilobytes at most, whatever
        # a task took or returned.
        if isinstance(event, m.TaskSucceeded) and current:
            self._task(event.pipeline_id, event.uid).update(finished_at=at, result=jsonable(event.result), error=None)
        elif isinstance(event, m.TaskFailed) and current:
            self._task(event.pipeline_id, event.uid).update(finished_at=at, error=error_json(event.error))
        elif isinstance(event, m.TaskStatusChanged) and event.task_status == "STARTED" and current:
            self._task(event.pipeline_id, event.uid).update(started_at=at)
        for decision in decisions:
            if isinstance(decision, m.PermitRequested):
                decision = decision.request
            if isinstance(decision, m.TaskRequested):
                task = self._task(decision.pipeline_id, decision.uid)
                for stale in ("result", "error", "message"):  # the previous attempt's
                    task.pop(stale, None)
                task.update(args=jsonable(decision.args), kwargs=jsonable(decision.kwargs), attempt=decision.attempt,
                            requested_at=at, started_at=None, finished_at=None)
            elif isinstance(decision, m.TasksSkipped):  # a failure or a condition passed them by
                for uid in decision.uids:
                    self._task(decision.pipeline_id, uid)["status"] = "SKIPPED"
            elif isinstance(decision, m.TaskStatusChanged):
                task = self._task(decision.pipeline_id, decision.uid)
                task["status"] = decision.task_status
                if decision.message:
                    task["message"] = decision.message

    def removed(self, pipeline_id: str) -> None:
        self._count -= len(self._pipelines.pop(pipeline_id, {}))

    def _task(self, pipeline_id: str, uid: str) -> dict[str, Any]:
        tasks = self._pipelines.get(pipeline_id)
        if tasks is None:
            tasks = self._pipelines[pipeline_id] = {}
        else:
            self._pipelines.move_to_end(pipeline_id)
        task = tasks.get(uid)
        if task is None:
            task = tasks[uid] = {}
            self._count += 1
            while self._count > self.max_tasks and len(self._pipelines) > 1:
                self._count -= len(self._pipelines.popitem(last=False)[1])
        return task

"""tasks.on(...): callbacks on task and pipeline state transitions (OpenStack TaskFlow's
notifications).

Every transition is an event on the status topic: `PipelineStatusChanged`, `TaskStatusChanged`
(REQUESTED, STARTED, SUCCEEDED, FAILED, RETRYING, REVERTING, REVERTED, REVERT_FAILED),
`TasksSkipped`, and `SlaMissed` (`"task.sla_missed"`); several of one pipeline's often travel
together in one `StatusEvents` record. A callback is registered under a pattern,
`"<task|pipeline>.<status>"` in lower case with `*` wildcards (`"task.failed"`, `"pipeline.*"`,
`"*"`), and receives the event. Workers call them for the tasks they run (started, succeeded,
failed), clients for everything on the status topic, the in-process runner for everything it
decides. A failing callback is logged and never stops the process that calls it.
"""
from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterator
from typing import Any

from events import messages as m

log = logging.getLogger("kafka_tasks.notifications")

Callback = Callable[[Any], Any]


def topics_of(event: Any) -> Iterator[tuple[str, Any]]:
    """(pattern topic, event for the callback) for each transition `event` records."""
    if isinstance(event, m.TaskStatusChanged):
        yield f"task.{event.task_status.lower()}", event
    elif isinstance(event, m.PipelineStatusChanged):
        yield f"pipeline.{event.status.name.lower()}", event
    elif isinstance(event, m.SlaMissed):
        yield "task.sla_missed", event
    elif isinstance(event, m.StatusEvents):  # several of one pipeline in one record
        for packed in event.events:
            yield from topics_of(packed)
    elif isinstance(event, m.TasksSkipped):
        for uid in event.uids:  # one batched event for a skipped group: a transition per task
            yield "task.skipped", m.TaskStatusChanged(event.pipeline_id, event.run, uid, "", 0, "SKIPPED")


class Listeners:
    def __init__(self) -> None:
        self._callbacks: list[tuple[str, Callback]] = []

    def add(self, pattern: str, callback: Callback) -> None:
        kind = pattern.split(".", 1)[0]
        if kind not in ("task", "pipeline", "*"):
            raise ValueError(f"tasks.on({pattern!r}): patterns are 'task.<status>', 'pipeline.<status>' or '*'")
        self._callbacks.append((pattern.lower(), callback))

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def dispatch(self, event: Any) -> None:
        for topic, payload in topics_of(event):
            for pattern, callback in self._callbacks:
                if fnmatch.fnmatchcase(topic, pattern):
                    try:
                        callback(payload)
                    except Exception:  # a notification must never stop a worker or a client
                        log.exception("the callback %r for %s failed", callback, topic)

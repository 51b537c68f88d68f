"""Declaring a schedule: a pipeline to run at every slot of a CRON expression (`tasks.schedule`).

The declaration is the `ScheduleDefined` event itself, not yet sent: `client.add_schedule` (or
`kafka-tasks schedule add`) puts it on Kafka, where the orchestrator keeps and fires it
(events/schedule.py); `InProcessRunner.add_schedule` runs it in this process on the runner's clock.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.messages import ScheduleDefined
from events.schedule import invalid_schedule
from streams.builder import PipelineBuilder


def declare_schedule(name: str, pipeline_or_task: Any, cron: str, start_date: datetime | float | None = None,
                     end_date: datetime | float | None = None, active: bool = True,
                     catch_up: bool = False) -> ScheduleDefined:
    """The event that defines the schedule (`tasks.schedule`'s arguments checked and converted).
    Raises ValueError, saying what to change, for a bad name, CRON expression or dates."""
    pipeline = pipeline_or_task if isinstance(pipeline_or_task, PipelineBuilder) else _send(pipeline_or_task)
    pipeline.validate()
    start_at, end_at = _epoch(start_date), _epoch(end_date)
    problem = invalid_schedule(name, cron, start_at, end_at)
    if problem is not None:
        raise ValueError(problem)
    return ScheduleDefined(name, cron, pipeline.to_spec(), start_at, end_at, active, catch_up)


def _send(task: Any) -> PipelineBuilder:
    send = getattr(task, "send", None)
    if send is None:
        raise TypeError(f"schedule a pipeline or a task (bound with @tasks.bind()), not {task!r}")
    built: PipelineBuilder = send()  # a task taking arguments: schedule task.send(args...) instead
    return built


def _epoch(moment: datetime | float | None) -> float | None:
    """Seconds since the epoch; a datetime without a time zone is taken as UTC (slots are UTC)."""
    if moment is None or isinstance(moment, (int, float)):
        return None if moment is None else float(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()

"""Schedule: a pipeline declared to run at every slot of a CRON expression (`tasks.schedule`).

A declaration only: `client.add_schedule` (or `kafka-tasks schedule add`) puts it on Kafka, where
the orchestrator keeps and fires it (events/schedule.py); `InProcessRunner.add_schedule` runs it
in this process against the runner's clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.messages import ScheduleDefined
from events.schedule import invalid_schedule
from events.spec import PipelineSpec
from streams.builder import PipelineBuilder


@dataclass(frozen=True)
class Schedule:
    name: str
    spec: PipelineSpec
    cron: str
    start_at: float | None = None
    end_at: float | None = None
    active: bool = True
    catch_up: bool = False

    @staticmethod
    def of(name: str, pipeline_or_task: Any, cron: str, start_date: datetime | float | None = None,
           end_date: datetime | float | None = None, active: bool = True, catch_up: bool = False) -> Schedule:
        """Raises ValueError, saying what to change, for a bad name, CRON expression or dates."""
        pipeline = pipeline_or_task if isinstance(pipeline_or_task, PipelineBuilder) else _send(pipeline_or_task)
        pipeline.validate()
        start_at, end_at = _epoch(start_date), _epoch(end_date)
        problem = invalid_schedule(name, cron, start_at, end_at)
        if problem is not None:
            raise ValueError(problem)
        return Schedule(name, pipeline.to_spec(), cron, start_at, end_at, active, catch_up)

    def to_event(self) -> ScheduleDefined:
        return ScheduleDefined(self.name, self.cron, self.spec, self.start_at, self.end_at, self.active, self.catch_up)


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

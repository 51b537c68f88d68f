"""A synchronous, in-memory stand-in for Kafka used by the fold's unit and property tests:
it keeps the orchestrator's input log, so a test can redeliver, reorder and replay events.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from events.decide import react
from events.messages import (
    INPUT_TYPES,
    PipelineFinished,
    PipelineSubmitted,
    TaskFailed,
    TaskRequested,
    TaskSucceeded,
)
from events.spec import PipelineSpec
from events.state import PipelineState
from streams.app import KafkaTasks
from streams.executor import execute


@dataclass
class Harness:
    tasks: KafkaTasks
    now: float = 0.0
    states: dict[str, PipelineState | None] = field(default_factory=dict)
    log: list[Any] = field(default_factory=list)  # every input event, in delivery order
    pending: list[TaskRequested] = field(default_factory=list)
    finished: list[PipelineFinished] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def submit(self, spec: PipelineSpec, pipeline_id: str = "p1") -> None:
        self.deliver(PipelineSubmitted(pipeline_id, "s1", spec))

    def deliver(self, event: Any) -> list[Any]:
        self.log.append(event)
        pipeline_id = event.pipeline_id
        self.states[pipeline_id], commands = react(self.states.get(pipeline_id), event, self.now)
        for command in commands:
            if isinstance(command, TaskRequested):
                self.pending.append(command)
            elif isinstance(command, PipelineFinished):
                self.finished.append(command)
            elif isinstance(command, INPUT_TYPES):
                self.deliver(command)
        return commands

    def work(self, request: TaskRequested) -> TaskSucceeded | TaskFailed:
        """Run one request as a worker would; the caller decides when to deliver the outcome."""
        self.pending.remove(request)
        return self.loop.run_until_complete(execute(self.tasks, request))

    def run_fifo(self) -> None:
        while self.pending:
            self.deliver(self.work(self.pending[0]))

    def close(self) -> None:
        self.loop.close()


def replay(log: list[Any], now: float = 0.0) -> dict[str, PipelineState | None]:
    """Fold a recorded input log from nothing: what `kafka-tasks replay` will do."""
    states: dict[str, PipelineState | None] = {}
    for event in log:
        states[event.pipeline_id], _ = react(states.get(event.pipeline_id), event, now)
    return states

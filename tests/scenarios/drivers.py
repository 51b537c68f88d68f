"""The drivers the scenario suite runs on. A scenario only uses this interface, so the same test
runs in-process now and over Kafka (a second driver) without change.
"""
from __future__ import annotations

from typing import Any, Protocol

from events.codec import Codec
from streams import PipelineBuilder, PipelineStatus
from streams.inprocess import InProcessRunner
from tests.scenarios.catalogue import tasks


class Driver(Protocol):
    name: str

    def run(self, pipeline: PipelineBuilder) -> Any:
        """Submit and wait: the result, or raise TaskError."""

    def start(self, pipeline: PipelineBuilder) -> str:
        """Submit; return once the pipeline finished or is paused (it cannot go on by itself)."""

    def submit(self, pipeline: PipelineBuilder) -> str:
        """Submit and return at once."""

    def wait_status(self, pipeline_id: str, status: PipelineStatus) -> None:
        """Block until the pipeline (a child too) has this status."""

    def result(self, pipeline_id: str) -> Any: ...
    def status(self, pipeline_id: str) -> PipelineStatus: ...
    def status_history(self, pipeline_id: str) -> list[PipelineStatus]: ...
    def pause(self, pipeline_id: str) -> None: ...
    def unpause(self, pipeline_id: str) -> None: ...
    def cancel(self, pipeline_id: str) -> None: ...


class InProcessDriver:
    """The engine in this process. With `avro=True` every event crosses the Avro codec as bytes."""

    def __init__(self, avro: bool = False) -> None:
        self.name = "in-process-avro" if avro else "in-process"
        self.runner = InProcessRunner(tasks, codec=Codec() if avro else None)

    def run(self, pipeline: PipelineBuilder) -> Any:
        return self.runner.run(pipeline)

    def start(self, pipeline: PipelineBuilder) -> str:
        return self.runner.start(pipeline)

    def submit(self, pipeline: PipelineBuilder) -> str:
        return self.runner.start(pipeline)  # runs as far as it can go, which includes submitting

    def wait_status(self, pipeline_id: str, status: PipelineStatus) -> None:
        assert self.runner.status(pipeline_id) is status  # nothing runs in the background here

    def result(self, pipeline_id: str) -> Any:
        return self.runner.result(pipeline_id)

    def status(self, pipeline_id: str) -> PipelineStatus:
        return self.runner.status(pipeline_id)

    def status_history(self, pipeline_id: str) -> list[PipelineStatus]:
        return self.runner.status_history(pipeline_id)

    def pause(self, pipeline_id: str) -> None:
        self.runner.pause(pipeline_id)

    def unpause(self, pipeline_id: str) -> None:
        self.runner.unpause(pipeline_id)

    def cancel(self, pipeline_id: str) -> None:
        self.runner.cancel(pipeline_id)

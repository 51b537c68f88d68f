"""Kafka Tasks: durable Celery-style pipelines on Kafka. The public API."""
from __future__ import annotations

from events.messages import Action
from events.status import PipelineStatus
from events.task_exception import TaskException
from streams.app import KafkaTasks
from streams.builder import PipelineBuilder, in_parallel
from streams.context import TaskContext
from streams.effects import with_pause_pipeline
from streams.errors import (
    ActionRejectedError,
    CommandFailedError,
    DecodeError,
    KafkaTasksError,
    PipelineDefinitionError,
    TaskError,
    TaskTimeoutError,
    UnknownTaskError,
    UnsupportedValueError,
)
from streams.graph import graph, node
from streams.retry import RetryPolicy
from streams.subflows import ForEach, ParameterizedForEach, Times, subflow

__all__ = [
    "Action",
    "ForEach",
    "ParameterizedForEach",
    "ActionRejectedError",
    "CommandFailedError",
    "DecodeError",
    "KafkaTasks",
    "KafkaTasksError",
    "PipelineBuilder",
    "PipelineDefinitionError",
    "PipelineStatus",
    "RetryPolicy",
    "TaskContext",
    "TaskError",
    "TaskException",
    "TaskTimeoutError",
    "Times",
    "UnknownTaskError",
    "UnsupportedValueError",
    "graph",
    "in_parallel",
    "node",
    "subflow",
    "with_pause_pipeline",
]

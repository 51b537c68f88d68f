"""Errors users catch. Every class derives from `KafkaTasksError`."""
from __future__ import annotations

from typing import Any

from events.errors import (
    ActionRejectedError,
    CommandFailedError,
    DecodeError,
    KafkaTasksError,
    PipelineDefinitionError,
    TaskTimeoutError,
    UnknownTaskError,
    UnsupportedValueError,
)
from events.status import PipelineStatus
from events.task_exception import CANCELLED_ERROR_TYPE, TaskException

__all__ = [
    "ActionRejectedError",
    "CommandFailedError",
    "DecodeError",
    "KafkaTasksError",
    "PipelineDefinitionError",
    "TaskError",
    "TaskTimeoutError",
    "UnknownTaskError",
    "UnsupportedValueError",
]


class TaskError(KafkaTasksError):
    """A pipeline ended in failure (or was cancelled).

    Attributes:
        exception_type: qualified name of the original exception, e.g. ``builtins.ValueError``.
        message: the original exception's message.
        stacktrace: the traceback from the worker that ran the task.
        pipeline_id: the pipeline that failed.
        state: the pipeline state at the failure.
        status: how the pipeline ended: FAILED, CANCELLED, REVERTED (its completed tasks were
            undone by their reverts) or REVERT_FAILED (see `revert_failures`).
        revert_failures: each revert that failed, and why.
    """

    def __init__(
        self,
        exception_type: str,
        message: str,
        stacktrace: str = "",
        pipeline_id: str | None = None,
        state: Any = None,
        status: PipelineStatus | None = None,
        revert_failures: tuple[str, ...] = (),
    ) -> None:
        super().__init__(f"{exception_type}: {message}")
        self.exception_type = exception_type
        self.message = message
        self.stacktrace = stacktrace
        self.pipeline_id = pipeline_id
        self.state = state
        self.status = status
        self.revert_failures = revert_failures

    @property
    def is_cancellation(self) -> bool:
        return self.exception_type == CANCELLED_ERROR_TYPE

    @staticmethod
    def of(error: TaskException, pipeline_id: str | None = None, state: Any = None,
           status: PipelineStatus | None = None, revert_failures: tuple[str, ...] = ()) -> TaskError:
        return TaskError(
            error.exception_type, error.exception_message, error.stacktrace, pipeline_id, state, status, revert_failures
        )

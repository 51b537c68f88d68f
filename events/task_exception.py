"""The value shape of a failed task, as handlers and `return_exceptions` groups receive it."""
from __future__ import annotations

from dataclasses import dataclass

AGGREGATED_ERROR_TYPE = "kafka_tasks.AggregatedError"
CANCELLED_ERROR_TYPE = "kafka_tasks.PipelineCancelledError"
INPUT_REJECTED_ERROR_TYPE = "kafka_tasks.InputRejectedError"


@dataclass(frozen=True, slots=True)
class TaskException:
    """A task's failure, carried as data.

    Attributes:
        task_id: uid of the task (or group) that failed.
        exception_type: qualified class name of the original exception, e.g. ``builtins.ValueError``.
        exception_message: ``str()`` of the original exception.
        stacktrace: the formatted traceback from the worker.
    """

    task_id: str
    exception_type: str
    exception_message: str
    stacktrace: str = ""

    @property
    def message(self) -> str:
        return self.exception_message

    def __str__(self) -> str:
        return f"{self.exception_type}: {self.exception_message}"


def aggregate(group_id: str, failures: list[TaskException]) -> TaskException:
    """One error for a group whose branches failed: every failed task's message, in group order.

    A branch that failed with a nested group's aggregate contributes that aggregate's parts, so the
    message lists the tasks that really failed, however deep, as `task id, type, message|...`.
    """
    messages, stacktraces = [], []
    for f in failures:
        if f.exception_type == AGGREGATED_ERROR_TYPE:
            messages.append(f.exception_message)
        else:
            messages.append(f"{f.task_id}, {f.exception_type}, {f.exception_message}")
        stacktraces.append(f.stacktrace)
    return TaskException(
        task_id=group_id,
        exception_type=AGGREGATED_ERROR_TYPE,
        exception_message="|".join(messages),
        stacktrace="|".join(stacktraces),
    )


def cancelled(pipeline_id: str) -> TaskException:
    return TaskException(pipeline_id, CANCELLED_ERROR_TYPE, "Pipeline was cancelled")


def input_rejected(pipeline_id: str, reason: str) -> TaskException:
    return TaskException(pipeline_id, INPUT_REJECTED_ERROR_TYPE, reason)

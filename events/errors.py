"""One exception tree for the whole project, rooted in `KafkaTasksError`.

Retry semantics are attributes (`retryable`), and every message says what to do next.
"""
from __future__ import annotations


class KafkaTasksError(Exception):
    """Base of every error Kafka Tasks raises on purpose."""

    retryable: bool = False


class PipelineDefinitionError(KafkaTasksError, ValueError):
    """A pipeline was built wrongly (empty, `finally_do` not last, ...)."""


class UnsupportedValueError(KafkaTasksError, TypeError):
    """An argument, result or state holds a value Avro cannot carry."""


class UnknownTaskError(KafkaTasksError, LookupError):
    """A request names a task no `@tasks.bind()` registered."""


class DecodeError(KafkaTasksError, ValueError):
    """Bytes that are not a Kafka Tasks event. Keeps the raw bytes for the dead-letter record."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class IllegalTransitionError(KafkaTasksError, RuntimeError):
    """A pipeline status change the transition table forbids: a bug, never user input."""


class ActionRejectedError(KafkaTasksError, RuntimeError):
    """Pause/unpause/cancel or a re-submission that the pipeline's status does not allow."""


class PayloadTooLargeError(KafkaTasksError, ValueError):
    """An event (a task's arguments or result) larger than Kafka takes in one record."""

    @staticmethod
    def of(what: str, size: int, limit: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"{what} is {size:,} bytes encoded, over the {limit:,} bytes one Kafka record may carry "
            "(max_message_bytes). Pass a reference instead (a file path, a URL, an object-store key) "
            "and load the data inside the task."
        )


class TaskTimeoutError(KafkaTasksError, TimeoutError):
    """A task ran longer than its `timeout` and was stopped. Retry it with a `RetryPolicy` whose
    `retry_for` names this class."""


class CommandFailedError(KafkaTasksError, RuntimeError):
    """A command task's process exited non-zero; the message carries the end of its stderr."""


class ChildPipelineFailed(KafkaTasksError):
    """Never raised: its name is in the exception types of every failure a child pipeline hands
    its parent task (beside the child's own error type), so a RetryPolicy can retry "whatever
    failed in the child" (sub-flows, streams/subflow.py) without retrying the task's own errors."""

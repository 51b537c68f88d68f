"""RetryPolicy: the user-facing form of `events.spec.RetrySpec`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from events.spec import RetrySpec


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed task before its pipeline sees the failure.

    Args:
        retry_for: exception classes to retry; subclasses match too.
        max_retries: how many retries (not attempts): 3 means up to 4 runs.
        delay: wait before each retry; scheduled by the orchestrator, never slept.
        exponential_back_off: double the delay for each retry (the first waits 2 x delay).
    """

    retry_for: list[type[BaseException]] = field(default_factory=lambda: [Exception])
    max_retries: int = 1
    delay: timedelta = timedelta(0)
    exponential_back_off: bool = False

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("RetryPolicy.max_retries must be 0 or more")
        for cls in self.retry_for:
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise TypeError(f"RetryPolicy.retry_for takes exception classes, not {cls!r}")

    def to_spec(self) -> RetrySpec:
        return RetrySpec(
            retry_for=tuple(qualified_name(c) for c in self.retry_for),
            max_retries=self.max_retries,
            delay_ms=self.delay.total_seconds() * 1000.0,
            exponential_back_off=self.exponential_back_off,
        )

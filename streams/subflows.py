"""subflow(pipeline, retry=...): OpenStack TaskFlow's retry controllers for a part of a pipeline.

The sub-flow runs as a child pipeline of one builtin task (an orchestrator task, registered in
every app). When the child fails, its own reverts have already undone what it completed (the
failed attempt is reverted first); the builtin task then fails with the child's error, and its
RetryPolicy runs it again, which starts the next attempt as a fresh child:

- `Times(n)`: up to n attempts (with `provides="attempt"`, the attempt number, from 1, goes into
  the sub-flow's input dict under that name);
- `ForEach(values)`: one attempt per value, in order, until one succeeds; the value is the
  sub-flow's input (with `provides=`, it is added to the previous dict result under that name);
- `ParameterizedForEach(provider)`: the same, with the values known only at run time: `provider`
  is the name of a list in the previous step's dict result, or a task computing the list from it.

When every attempt failed, the step fails with the last attempt's error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from events.codec import Codec
from events.errors import ChildPipelineFailed, PipelineDefinitionError
from events.values import ensure_carriable
from streams.builder import PipelineBuilder
from streams.context import TaskContext
from streams.retry import RetryPolicy
from streams.task import BoundTask

if TYPE_CHECKING:
    from streams.app import KafkaTasks

SUBFLOW_TASK = "kafka_tasks.subflow_attempt"
# ParameterizedForEach learns its number of values at run time; the policy allows this many.
MAX_PARAMETERIZED_ATTEMPTS = 1000
_codec = Codec()


class AttemptsExhaustedError(Exception):
    """Every value of a ParameterizedForEach was tried (or there were none)."""


@dataclass(frozen=True)
class Times:
    attempts: int
    provides: str | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise PipelineDefinitionError("Times(attempts) needs 1 attempt or more")


@dataclass(frozen=True)
class ForEach:
    values: list[Any]
    provides: str | None = None

    def __post_init__(self) -> None:
        if not self.values:
            raise PipelineDefinitionError("ForEach(values) needs at least one value")
        ensure_carriable(list(self.values), "ForEach(values)")


@dataclass(frozen=True)
class ParameterizedForEach:
    provider: str | BoundTask  # a name in the previous dict result, or a task giving the values
    provides: str | None = None


Strategy = Times | ForEach | ParameterizedForEach


def subflow(pipeline: PipelineBuilder, retry: Strategy, delay: timedelta = timedelta(0),
            worker_name: str | None = None) -> PipelineBuilder:
    """`pipeline` as one step, run again by `retry` when it fails (`delay` between attempts).

    Args:
        worker_name: the workers that start each attempt (a builtin step every app has; default:
            the `default` worker name). Name yours if none serves `default`.
    """
    pipeline.validate()
    if isinstance(retry, Times):
        plan: dict[str, Any] = {"kind": "times", "attempts": retry.attempts}
        retries = retry.attempts - 1
    elif isinstance(retry, ForEach):
        plan, retries = {"kind": "for_each", "values": list(retry.values)}, len(retry.values) - 1
    elif isinstance(retry, ParameterizedForEach):
        provider = retry.provider.name if isinstance(retry.provider, BoundTask) else retry.provider
        plan = {"kind": "parameterized", "provider": provider, "is_task": isinstance(retry.provider, BoundTask)}
        retries = MAX_PARAMETERIZED_ATTEMPTS
    else:
        raise PipelineDefinitionError(f"retry must be Times, ForEach or ParameterizedForEach, not {retry!r}")
    plan["provides"] = retry.provides
    spec = _codec.encode_spec(pipeline.to_spec())
    step = PipelineBuilder().send(_attempt_task(), spec, plan)
    return step.set(retry_policy=_policy(retries, delay), worker_name=worker_name)


def _policy(retries: int, delay: timedelta) -> RetryPolicy:
    # Whatever failed in the child attempt; not the builtin's own errors (values run out).
    return RetryPolicy(retry_for=[ChildPipelineFailed], max_retries=retries, delay=delay)


_ATTEMPT_TASK: list[BoundTask] = []


def _attempt_task() -> BoundTask:
    """The builtin task's handle for building requests (the same name in every app)."""
    if not _ATTEMPT_TASK:
        _ATTEMPT_TASK.append(BoundTask(lambda *a: None, SUBFLOW_TASK, with_state=False, is_fruitful=True, retry=None,
                                       worker_name=None, display_name="subflow", with_context=True))
    return _ATTEMPT_TASK[0]


def register_subflow_task(tasks: KafkaTasks) -> None:
    """Make `tasks` able to run sub-flow attempts (its workers run the builtin task)."""

    def attempt(context: TaskContext, *args: Any) -> PipelineBuilder:
        # The previous step's result comes first, spread like any task's (none when the sub-flow
        # starts the pipeline, or follows a step that passes nothing on).
        *parts, spec_bytes, plan = args
        previous = parts[0] if len(parts) == 1 else tuple(parts) if parts else None
        value = _value(tasks, plan, previous, context.attempt)
        child = PipelineBuilder(list(_codec.decode_spec(spec_bytes).entries))
        provides = plan["provides"]
        if provides is not None:
            return child.with_initial(args={**(previous if isinstance(previous, dict) else {}), provides: value})
        if plan["kind"] != "times":
            return child.with_initial(args=value)  # the value is the sub-flow's input
        return child.with_initial(args=previous) if parts else child

    tasks._add(BoundTask(attempt, SUBFLOW_TASK, with_state=False, is_fruitful=True, retry=None,
                         worker_name=tasks.default_worker_name, display_name="subflow", with_context=True))


def _value(tasks: KafkaTasks, plan: dict[str, Any], previous: Any, attempt: int) -> Any:
    if plan["kind"] == "times":
        return attempt + 1
    if plan["kind"] == "for_each":
        return plan["values"][attempt]
    provider = plan["provider"]
    if plan["is_task"]:
        values = tasks.get_task(provider).fn(previous)
    elif isinstance(previous, dict) and provider in previous:
        values = previous[provider]
    else:
        raise AttemptsExhaustedError(
            f"ParameterizedForEach({provider!r}): the previous step's result has no {provider!r}: "
            "return a dict holding the list of values under that name"
        )
    values = list(values)
    if attempt >= len(values):
        raise AttemptsExhaustedError(
            f"ParameterizedForEach({provider!r}): all {len(values)} values were tried and each attempt "
            "failed (their errors are on the status topic)"
        )
    return values[attempt]

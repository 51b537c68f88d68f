"""Our side of the differential test: the seed's task catalogue bound on Kafka Tasks, the
neutral-description translator, and a runner that answers in the seed driver's reply format.

The task bodies themselves live in `contract.py`, shared with the seed side.
"""
from __future__ import annotations

import builtins
import functools
from datetime import timedelta
from typing import Any

from streams import KafkaTasks, PipelineBuilder, RetryPolicy, TaskError, TaskException, in_parallel
from streams.inprocess import InProcessRunner
from tests.differential import contract

tasks = KafkaTasks(app_id="differential")
# module_name pins task names to "tasks.<fn>", as on the seed side.
bind = functools.partial(tasks.bind, module_name="tasks")
CATALOGUE = {
    body.__name__: bind(with_state=body.__name__ in contract.STATEFUL, is_fruitful=body.__name__ not in contract.NOT_FRUITFUL)(body)
    for body in contract.BODIES
}


@bind()
def spawn(description, *args):
    return build(description)


CATALOGUE["spawn"] = spawn
decode = contract.decode


def encode(value: Any) -> Any:
    """Python -> neutral JSON, as the seed driver writes its replies."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, TaskException):
        return {"__exception__": {"exception_type": value.exception_type, "exception_message": value.exception_message}}
    return value


def build(desc: dict[str, Any]) -> PipelineBuilder:
    builder: PipelineBuilder | None = None
    for entry in desc.get("entries", []):
        if "group" in entry:
            step = in_parallel(
                [build(chain) for chain in entry["group"]],
                max_parallelism=entry.get("max_parallelism"),
                num_stages=entry.get("num_stages"),
                return_exceptions=bool(entry.get("return_exceptions")),
            )
            builder = step if builder is None else builder.continue_with(step)
            continue
        fn = CATALOGUE[entry["task"]]
        args = tuple(decode(entry.get("args", [])))
        kwargs = decode(entry.get("kwargs", {}))
        builder = builder if builder is not None else PipelineBuilder()
        kind = entry.get("kind", "normal")
        if kind == "exceptionally":
            builder.exceptionally(fn, *args, **kwargs)
        elif kind == "finally":
            builder.finally_do(fn, *args, **kwargs)
        else:
            builder.send(fn, *args, **kwargs)
        if entry.get("fruitful", True) is False:
            builder.set(is_fruitful=False)
        if "retry" in entry:
            retry = entry["retry"]
            builder.set(
                retry_policy=RetryPolicy(
                    retry_for=[getattr(builtins, n.split(".", 1)[1]) for n in retry.get("retry_for", ["builtins.Exception"])],
                    max_retries=retry.get("max_retries", 1),
                    delay=timedelta(milliseconds=retry.get("delay_ms", 0)),
                )
            )
    builder = builder if builder is not None else PipelineBuilder()
    if desc.get("inline"):
        builder.inline()
    initial = desc.get("initial")
    if initial:
        builder.with_initial(**{k: decode(initial[k]) for k in ("args", "kwargs", "state") if k in initial})
    return builder


def run(desc: dict[str, Any]) -> dict[str, Any]:
    """Run a description on our engine; reply like the seed driver (state = state after the last step)."""
    contract.reset_counters()
    runner = InProcessRunner(tasks)
    try:
        result = runner.run(build(desc))
    except TaskError as error:
        return {
            "ok": False,
            "exception_type": error.exception_type,
            "exception_message": error.message,
            "state": encode(error.state),
        }
    finished_state = next(
        e.state for e in reversed(runner.published) if type(e).__name__ == "PipelineFinished"
    )
    return {"ok": True, "result": encode(result), "state": encode(finished_state)}

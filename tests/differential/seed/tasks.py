"""Task catalogue and neutral-description translator for the seed engine (statefun-tasks 0.9.93).

Runs only inside the seed venv (imported by driver.py). The task bodies are part of the differential
contract: our engine's catalogue must behave identically, so keep them byte-for-byte simple.
"""
from __future__ import annotations

import builtins
from datetime import timedelta

from statefun_tasks import FlinkTasks, PipelineBuilder, RetryPolicy, in_parallel

NAMESPACE = "seed"
WORKER = "worker"
EGRESS = f"{NAMESPACE}/kafka-generic-egress"

flink_tasks = FlinkTasks(default_namespace=NAMESPACE, default_worker_name=WORKER, egress_type_name=EGRESS)

# module_name pins task types to "tasks.<fn>" however this file is imported; the type leaks into
# aggregated group error messages ("<task id>, tasks.fail.error, boom"), so it must be stable.
bind = lambda **kw: flink_tasks.bind(module_name="tasks", **kw)  # noqa: E731

# per-process call counters for `flaky`; the driver clears them before every pipeline
_flaky_calls: dict = {}


def reset_counters() -> None:
    _flaky_calls.clear()


@bind()
def echo(*args):
    return args


@bind()
def add(a, b=1):
    return a + b


@bind()
def join(*args, sep="-"):
    return sep.join(str(a) for a in args)


@bind()
def fail(*args, message="boom"):
    raise ValueError(message)


@bind()
def fail_type(*args, message="bad type"):
    raise TypeError(message)


@bind()
def describe_error(ex, *args):
    return f"{ex.exception_type}: {ex.exception_message}"


@bind()
def flaky(key, failures, value):
    calls = _flaky_calls.get(key, 0)
    _flaky_calls[key] = calls + 1
    if calls < failures:
        raise ValueError(f"flaky {key}")
    return value


@bind(with_state=True)
def set_state(state, *args, value=None):
    return (value, *args)


@bind(with_state=True)
def read_state(state, *args):
    return state, state


@bind(with_state=True)
def merge_state(state, *args, key="k", value=1):
    return ({**(state or {}), key: value}, *args)


@bind(is_fruitful=False)
def noop(*args):
    return "ignored"


@bind()
def spawn(description, *args):
    return build_pipeline(description)


CATALOGUE = {f.__name__: f for f in (echo, add, join, fail, fail_type, describe_error, flaky,
                                      set_state, read_state, merge_state, noop, spawn)}


# ---------------------------------------------------------------------------------------------------
# neutral description -> PipelineBuilder

def decode(value):
    """JSON value -> Python value ({"__tuple__": [...]} -> tuple). Real tuples are accepted too,
    because a description nested in spawn's args has already been decoded once."""
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(v) for v in value["__tuple__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = [decode(v) for v in value]
        return tuple(out) if isinstance(value, tuple) else out
    return value


def _retry_policy(spec: dict) -> RetryPolicy:
    return RetryPolicy(
        retry_for=[getattr(builtins, name.split(".", 1)[1]) if name.startswith("builtins.")
                   else _unknown_exception(name) for name in spec.get("retry_for", ["builtins.Exception"])],
        max_retries=spec.get("max_retries", 1),
        delay=timedelta(milliseconds=spec.get("delay_ms", 0)))


def _unknown_exception(name):
    raise ValueError(f"retry_for supports builtins.* exception names only, got {name!r}")


def build_pipeline(desc: dict) -> PipelineBuilder:
    builder = PipelineBuilder()
    for entry in desc.get("entries", []):
        if "group" in entry:
            options = {}
            if entry.get("max_parallelism") is not None:
                options["max_parallelism"] = entry["max_parallelism"]
            if entry.get("num_stages") is not None:  # seed's default is 1; None would crash its `> 1` test
                options["num_stages"] = entry["num_stages"]
            if entry.get("return_exceptions"):
                options["return_exceptions"] = True
            builder.continue_with(in_parallel([build_pipeline(p) for p in entry["group"]], **options))
            continue

        if entry.get("task") not in CATALOGUE:
            raise ValueError(f"unknown task {entry.get('task')!r}; catalogue: {', '.join(CATALOGUE)}")
        fn = CATALOGUE[entry["task"]]
        args = tuple(decode(entry.get("args", [])))
        kwargs = decode(entry.get("kwargs", {}))
        kind = entry.get("kind", "normal")
        if kind not in ("normal", "exceptionally", "finally"):
            raise ValueError(f"unknown entry kind {kind!r}")
        # Same as continue_with / exceptionally / finally_do, minus their named first parameter, so a
        # task kwarg called e.g. "continuation" cannot collide with the builder method's signature.
        builder.append(fn.to_task(args, kwargs, is_finally=kind == "finally",
                                  is_exceptionally=kind == "exceptionally"))
        if entry.get("fruitful", True) is False:
            builder.set(is_fruitful=False)
        if "retry" in entry:
            builder.set(retry_policy=_retry_policy(entry["retry"]))

    if desc.get("inline"):
        builder.inline()
    initial = desc.get("initial")
    if initial:
        builder.with_initial(**{k: decode(initial[k]) for k in ("args", "kwargs", "state") if k in initial})
    return builder

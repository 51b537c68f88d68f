"""The seed engine's side of the catalogue (bodies from ../contract.py) and the description translator.

Runs only inside the seed venv (imported by driver.py). The task bodies are the differential
contract and live in ../contract.py, which our engine's side binds too.
"""
from __future__ import annotations

import builtins
import sys
from datetime import timedelta
from pathlib import Path

from statefun_tasks import FlinkTasks, PipelineBuilder, RetryPolicy, in_parallel

NAMESPACE = "seed"
WORKER = "worker"
EGRESS = f"{NAMESPACE}/kafka-generic-egress"

flink_tasks = FlinkTasks(default_namespace=NAMESPACE, default_worker_name=WORKER, egress_type_name=EGRESS)

# module_name pins task types to "tasks.<fn>" however this file is imported; the type leaks into
# aggregated group error messages ("<task id>, tasks.fail.error, boom"), so it must be stable.
bind = lambda **kw: flink_tasks.bind(module_name="tasks", **kw)  # noqa: E731

# The task bodies and the neutral value format are the differential contract, shared with our
# engine's side (tests/differential/contract.py, imported by path: this runs in the seed venv).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import contract  # noqa: E402

reset_counters = contract.reset_counters
decode = contract.decode
CATALOGUE = {
    body.__name__: bind(with_state=body.__name__ in contract.STATEFUL, is_fruitful=body.__name__ not in contract.NOT_FRUITFUL)(body)
    for body in contract.BODIES
}


@bind()
def spawn(description, *args):
    return build_pipeline(description)


CATALOGUE["spawn"] = spawn


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

"""Smoke test of the seed-engine oracle: representative pipelines with answers derived by hand from
statefun-tasks 0.9.93 semantics (previous result is prepended to a task's args, a 1-tuple result
unwraps to its value, groups yield lists, etc.)."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.differential

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def task(name, *args, **extra):
    return {"task": name, "args": list(args), **extra}


def chain(*entries, **extra):
    return {"entries": list(entries), **extra}


def group(*chains, **options):
    return {"group": list(chains), **options}


def ok(result, state=None, last_task_state=None):
    return {"ok": True, "result": result, "state": state, "last_task_state": last_task_state}


def err(exception_type, exception_message, state=None, last_task_state=None):
    return {"ok": False, "exception_type": exception_type, "exception_message": exception_message,
            "state": state, "last_task_state": last_task_state}


CASES = {
    # echo(5) -> 5; add(5, 2) -> 7; join(7, "x", sep="+") -> "7+x"
    "chain": (chain(task("echo", 5), task("add", 2), task("join", "x", kwargs={"sep": "+"})),
              ok("7+x")),
    # a multi-value result stays a tuple
    "tuple-result": (chain(task("echo", 1, 2)), ok({"__tuple__": [1, 2]})),
    # group -> list in chain order; the list is passed on as ONE argument: echo([1, 12]) -> [1, 12]
    "group": (chain(group(chain(task("echo", 1)), chain(task("echo", 2), task("add", 10))), task("echo")),
              ok([1, 12])),
    "group-return-exceptions": (
        chain(group(chain(task("echo", 1)), chain(task("fail")), return_exceptions=True)),
        ok([1, {"__exception__": {"exception_type": "builtins.ValueError", "exception_message": "boom"}}])),
    # the failure skips add and lands in the exceptionally handler, which recovers
    "exceptionally-recovers": (
        chain(task("fail", kwargs={"message": "oops"}), task("add"), task("describe_error", kind="exceptionally")),
        ok("builtins.ValueError: oops")),
    # without a failure the exceptionally task is skipped: echo(3) -> add(3) -> 4
    "exceptionally-skipped": (chain(task("echo", 3), task("describe_error", kind="exceptionally"), task("add")),
                              ok(4)),
    # finally runs but the pipeline answers with the result from before it
    "finally-after-success": (chain(task("echo", 3), task("noop", kind="finally")), ok(3)),
    "finally-after-failure": (chain(task("fail"), task("noop", kind="finally")), err("builtins.ValueError", "boom")),
    # state flows task to task; a non-inline pipeline hands back the state it was started with (None
    # at top level), the tasks' final state shows as last_task_state
    "state": (chain(task("merge_state", kwargs={"key": "a", "value": 1}), task("read_state"),
                    initial={"state": {"z": 0}}),
              ok({"z": 0, "a": 1}, state=None, last_task_state={"z": 0, "a": 1})),
    # seed quirk: group states are not merged, the first chain's state wins
    "state-in-group": (chain(group(chain(task("merge_state", kwargs={"key": "a", "value": 1})),
                                   chain(task("merge_state", kwargs={"key": "b", "value": 2}))),
                             task("read_state"), initial={"state": {"z": 0}}),
                       ok({"z": 0, "a": 1}, last_task_state={"z": 0, "a": 1})),
    # task kwargs beat the pipeline's initial kwargs: add(10, b=5)
    "initial-kwargs-precedence": (chain(task("add", kwargs={"b": 5}), initial={"args": 10, "kwargs": {"b": 100}}),
                                  ok(15)),
    # orchestrator: child pipeline 1 + 5 = 6 becomes spawn's result; add(6) -> 7
    "orchestrator": (chain(task("spawn", chain(task("echo", 1), task("add", 5))), task("add")), ok(7)),
    # an inline child shares (and hands back) the parent's state; a non-inline one does not
    "orchestrator-inline-state": (
        chain(task("set_state", kwargs={"value": 5}),
              task("spawn", kwargs={"description": chain(task("set_state", kwargs={"value": 9}), inline=True)}),
              task("read_state")),
        ok(9, last_task_state=9)),
    "orchestrator-isolated-state": (
        chain(task("set_state", kwargs={"value": 5}),
              task("spawn", kwargs={"description": chain(task("set_state", kwargs={"value": 9}))}),
              task("read_state")),
        ok(5, last_task_state=5)),
    # two failures, two retries allowed -> third call succeeds
    "retry-succeeds": (chain(task("flaky", "a", 2, "ok",
                                  retry={"max_retries": 2, "retry_for": ["builtins.ValueError"]})), ok("ok")),
    "retry-exhausted": (chain(task("flaky", "a", 3, "ok",
                                   retry={"max_retries": 2, "retry_for": ["builtins.ValueError"]})),
                        err("builtins.ValueError", "flaky a")),
    "retry-wrong-type": (chain(task("flaky", "a", 1, "ok",
                                    retry={"max_retries": 5, "retry_for": ["builtins.TypeError"]})),
                         err("builtins.ValueError", "flaky a")),
    # a non-fruitful step yields (), so the next task gets no previous result: echo() -> ()
    "non-fruitful": (chain(task("echo", 1), task("noop"), task("echo")), ok({"__tuple__": []})),
    "fruitful-false": (chain(task("echo", 1), task("echo", fruitful=False), task("echo", 2)), ok(2)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_seed_case(seed_engine, name):
    description, expected = CASES[name]
    assert seed_engine.run(description) == expected


def test_aggregated_group_error_message_embeds_task_ids(seed_engine):
    reply = seed_engine.run(chain(group(chain(task("echo", 1)), chain(task("fail")), chain(task("fail_type")))))
    assert reply["ok"] is False
    assert reply["exception_type"] == "statefun_tasks.AggregatedError"
    assert re.fullmatch(f"{UUID}, tasks.fail.error, boom\\|{UUID}, tasks.fail_type.error, bad type",
                        reply["exception_message"]), reply


def test_flaky_counters_reset_between_pipelines(seed_engine):
    description = chain(task("flaky", "same", 1, "v", retry={"max_retries": 1}))
    assert seed_engine.run_many([description, description]) == [ok("v"), ok("v")]


def test_build_errors_are_reported_not_raised(seed_engine):
    reply = seed_engine.run(chain(task("noop", kind="finally"), task("echo", 1)))
    assert reply["ok"] is False and reply["error_stage"] == "build"
    assert reply["exception_message"] == 'Invalid pipeline: "finally_do" must be called at the end of the pipeline'

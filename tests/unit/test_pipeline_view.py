"""A pipeline's state as the REST API and dashboard show it (streams/pipeline_view.py): the steps
tree mirrors the spec, each task's status comes from the state, what the replica saw of its runs
is merged in, and values are cut down to what a page can show."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np

from events.decide import react
from events.messages import PipelineSubmitted, TaskFailed, TaskRequested, TaskSucceeded
from events.spec import EntryKind, GroupEntry, PipelineSpec, TaskEntry
from events.task_exception import TaskException
from streams import RetryPolicy
from streams.json_pipelines import pipeline_from_json
from streams.pipeline_view import MAX_ITEMS, MAX_TEXT, error_json, jsonable, pipeline_json, result_json


def spec(*entries) -> PipelineSpec:
    return PipelineSpec(tuple(entries))


def task(uid: str, *args, **options) -> TaskEntry:
    return TaskEntry(uid, f"m.{uid}", args, **options)


# a(1) -> [b | c], one branch at a time -> d
SPEC = spec(task("a", 1), GroupEntry("g", (spec(task("b")), spec(task("c"))), max_parallelism=1), task("d"))


class Run:
    """One pipeline driven through the pure engine, its requests kept by uid."""

    def __init__(self, pipeline: PipelineSpec, now: float = 10.0) -> None:
        self.requests: dict[str, TaskRequested] = {}
        self.state = None
        self.feed(PipelineSubmitted("p1", "s1", pipeline), now)

    def feed(self, event, now: float) -> None:
        self.state, commands = react(self.state, event, now)
        self.requests.update((c.uid, c) for c in commands if isinstance(c, TaskRequested))

    def succeed(self, uid: str, result, now: float = 20.0) -> None:
        self.feed(TaskSucceeded("p1", 1, uid, self.requests[uid].attempt, result), now)

    def fail(self, uid: str, error: TaskException, now: float = 20.0) -> None:
        self.feed(TaskFailed("p1", 1, uid, self.requests[uid].attempt, error, None, ("builtins.ValueError", "builtins.Exception")), now)


def nodes(document) -> dict[str, dict]:
    found, stack = {}, list(document["steps"])
    while stack:
        step = stack.pop()
        if step["type"] == "task":
            found[step["uid"]] = step
        else:
            stack.extend(s for branch in step["branches"] for s in branch)
    return found


def statuses(document) -> dict[str, str]:
    return {uid: node["status"] for uid, node in nodes(document).items()}


def test_the_steps_tree_mirrors_the_spec_with_parallel_branches_side_by_side():
    document = pipeline_json(Run(SPEC).state, {})
    first, group, last = document["steps"]
    assert (first["type"], first["uid"], first["name"], first["kind"], first["args"]) == ("task", "a", "m.a", "NORMAL", [1])
    assert (group["type"], group["group_id"], group["max_parallelism"]) == ("parallel", "g", 1)
    assert [[t["uid"] for t in branch] for branch in group["branches"]] == [["b"], ["c"]]
    assert last["uid"] == "d"
    assert (document["pipeline_id"], document["run"], document["parent"]) == ("p1", 1, None)


def test_a_wide_group_shows_its_first_branches_and_counts_every_task():
    wide = spec(GroupEntry("g", tuple(spec(task(f"t{i}")) for i in range(10))))
    document = pipeline_json(Run(wide).state, {}, max_branches=3)
    (group,) = document["steps"]
    assert [[t["uid"] for t in branch] for branch in group["branches"]] == [["t0"], ["t1"], ["t2"]]
    assert group["hidden_branches"] == 7
    assert document["task_counts"] == {"RUNNING": 10}
    assert pipeline_json(Run(wide).state, {})["steps"][0]["hidden_branches"] == 0


def test_a_running_pipeline_shows_done_running_and_pending_tasks_and_when_it_started():
    run = Run(SPEC, now=10.0)
    run.succeed("a", 2)
    document = pipeline_json(run.state, {})
    assert statuses(document) == {"a": "SUCCEEDED", "b": "RUNNING", "c": "PENDING", "d": "PENDING"}
    assert document["task_counts"] == {"SUCCEEDED": 1, "RUNNING": 1, "PENDING": 2}
    assert (document["status"], document["started_at"], document["finished_at"]) == ("RUNNING", 10.0, None)
    assert "result" not in document and "error" not in document


def test_a_task_waiting_for_its_retry_shows_retrying():
    run = Run(spec(task("a", retry=RetryPolicy(delay=timedelta(seconds=5)).to_spec())))
    run.fail("a", TaskException("a", "builtins.ValueError", "boom"))
    assert statuses(pipeline_json(run.state, {})) == {"a": "RETRYING"}


def test_a_failed_pipeline_shows_its_error_the_failed_task_from_the_activity_and_the_rest_skipped():
    error = TaskException("b", "builtins.ValueError", "boom", "Traceback (most recent call last): ...")
    run = Run(SPEC)
    run.succeed("a", 2)
    run.fail("b", error, now=30.0)
    # (a result and an error: an orchestrator task whose child pipeline failed after it returned)
    seen = {"b": {"status": "FAILED", "args": (2,), "requested_at": 20.0, "finished_at": 30.0, "result": None,
                  "error": error_json(error), "message": "boom"}}
    assert statuses(pipeline_json(run.state, seen)) == {"a": "SUCCEEDED", "b": "FAILED", "c": "RUNNING", "d": "PENDING"}
    run.succeed("c", "C", now=30.0)  # the group fails once every branch is over
    document = pipeline_json(run.state, seen)
    assert statuses(document) == {"a": "SUCCEEDED", "b": "FAILED", "c": "SUCCEEDED", "d": "SKIPPED"}
    assert document["status"] == "FAILED" and document["finished_at"] == 30.0
    b = nodes(document)["b"]
    assert (b["args"], b["requested_at"], b["finished_at"]) == ([2], 20.0, 30.0)
    assert b["error"] == {"type": "builtins.ValueError", "message": "boom", "stacktrace": error.stacktrace}
    assert "message" not in b and "result" not in b
    assert document["error"]["message"].endswith("boom") and "result" not in document
    assert result_json(run.state)["error"] == document["error"]


def test_a_completed_pipeline_shows_its_result_and_each_task_what_the_activity_saw():
    run = Run(SPEC)
    for uid, result in (("a", 2), ("b", "B"), ("c", "C"), ("d", {"total": 3})):
        run.succeed(uid, result, now=40.0)
    seen = {"d": {"status": "SUCCEEDED", "args": (["B", "C"],), "kwargs": {}, "result": {"total": 3},
                  "requested_at": 35.0, "started_at": 36.0, "finished_at": 40.0, "error": None}}
    document = pipeline_json(run.state, seen)
    assert document["task_counts"] == {"SUCCEEDED": 4} and document["status"] == "COMPLETED"
    d = nodes(document)["d"]
    assert (d["args"], d["result"], d["started_at"], d["finished_at"]) == ([["B", "C"]], {"total": 3}, 36.0, 40.0)
    assert "result" not in nodes(document)["a"]  # nothing seen of it: no details, only its status
    assert document["result"] == {"total": 3} and document["finished_at"] == 40.0
    assert result_json(run.state) == {"pipeline_id": "p1", "status": "COMPLETED", "result": {"total": 3}}


def test_a_handler_not_needed_is_skipped_once_the_pipeline_has_finished():
    run = Run(spec(task("a"), task("h", kind=EntryKind.EXCEPTIONALLY)))
    assert statuses(pipeline_json(run.state, {})) == {"a": "RUNNING", "h": "PENDING"}
    run.succeed("a", 1)
    assert statuses(pipeline_json(run.state, {})) == {"a": "SUCCEEDED", "h": "SKIPPED"}


def test_a_handled_failure_shows_failed_from_the_state_alone_as_after_a_restart():
    # The activity (what this replica saw) is memory; a replica that restarted has only the state.
    run = Run(spec(task("a"), task("h", kind=EntryKind.EXCEPTIONALLY), task("z")))
    run.fail("a", TaskException("a", "builtins.ValueError", "boom", ""))
    run.succeed("h", "recovered")
    run.succeed("z", "done")
    document = pipeline_json(run.state, {})
    assert document["status"] == "COMPLETED"
    assert statuses(document) == {"a": "FAILED", "h": "SUCCEEDED", "z": "SUCCEEDED"}


def test_a_completed_staged_group_shows_no_skipped_step():
    body = {"parallel": [{"task": "m.x", "args": [i]} for i in range(4)], "num_stages": 2}
    run = Run(pipeline_from_json(body).to_spec())
    for uid, request in list(run.requests.items()):
        run.succeed(uid, request.args[0])
    document = pipeline_json(run.state, {})
    assert document["status"] == "COMPLETED" and document["result"] == [0, 1, 2, 3]
    assert "SKIPPED" not in document["task_counts"]


def test_jsonable_cuts_long_lists_and_dicts_after_max_items():
    assert jsonable(list(range(MAX_ITEMS + 7))) == [*range(MAX_ITEMS), "... (7 more)"]
    assert jsonable(tuple(range(MAX_ITEMS))) == list(range(MAX_ITEMS))  # exactly MAX_ITEMS: no marker
    shown = jsonable({f"k{i}": i for i in range(MAX_ITEMS + 2)})
    assert len(shown) == MAX_ITEMS + 1 and shown["..."] == "2 more" and shown["k0"] == 0


def test_jsonable_shows_bytes_as_base64_with_their_length():
    assert jsonable(b"\x00\xffhi") == {"bytes_base64": base64.b64encode(b"\x00\xffhi").decode(), "length": 4}
    big = jsonable(b"x" * (MAX_TEXT + 10))
    assert big["length"] == MAX_TEXT + 10 and base64.b64decode(big["bytes_base64"]) == b"x" * MAX_TEXT


def test_jsonable_turns_numpy_values_into_plain_ones():
    assert jsonable(np.arange(4, dtype=np.int16).reshape(2, 2)) == [[0, 1], [2, 3]]
    value = jsonable([np.int64(7), np.float32(1.5), np.bool_(True)])
    assert value == [7, 1.5, True] and json.dumps(value) == "[7, 1.5, true]"


def test_jsonable_cuts_long_strings_and_shows_other_objects_by_repr():
    text = jsonable("y" * (MAX_TEXT + 5))
    assert text == "y" * MAX_TEXT + f"... ({MAX_TEXT + 5:,} characters)"
    assert jsonable("short") == "short"
    assert jsonable({1: "a"}) == {"repr": "{1: 'a'}"}  # not a JSON object: keys must be strings
    assert jsonable(object) == {"repr": repr(object)}
    assert jsonable(TaskException("t", "builtins.KeyError", "k"))["exception"]["type"] == "builtins.KeyError"


def test_jsonable_shows_deeply_nested_values_by_repr():
    deep = [[[[[[[1]]]]]]]
    assert jsonable(deep) == [[[[[[{"repr": "[1]"}]]]]]]

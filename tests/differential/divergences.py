"""Every known difference between our engine and the seed (statefun-tasks 0.9.93), in one place.

`classify(description, seed_reply)` names the divergences a pipeline runs into; the differential
test compares strictly only when there are none, and counts the rest. Each entry says which side we
judged right and why.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DIVERGENCES = {
    "group-state-merge": (
        "After a group, we merge the branches' dict states with the earliest branch winning (as the "
        "Java engine and Flink Tasks' docs do); the seed's merge never runs (it tests "
        "isinstance(Any, MapOfStringToAny), always false) and keeps the first branch's state."
    ),
    "handler-loses-state": (
        "When an exceptionally handler runs, the seed hands it and every later step an empty state "
        "(null); we keep the failed task's input state, as the feature catalogue specifies."
    ),
    "nested-empty-groups": (
        "in_parallel([in_parallel([])]) collapses to [] here (Java engine e2e behaviour); the seed "
        "nests the empty list."
    ),
    "stages-return-exceptions": (
        "num_stages > 1 with return_exceptions crashes the seed ('TaskException' object is not "
        "iterable in flatten_results): a seed bug; we pass return_exceptions to each stage."
    ),
    "return-exceptions-skipped-tail": (
        "In a return_exceptions group, a chain that fails before its last step gets an inconsistent "
        "answer from the seed: [[error]] when it is the group's only chain, [error, ...] beside "
        "others, and an AggregatedError for the whole pipeline when a nested group was skipped. "
        "We always put the chain's TaskException in its slot."
    ),
    "leading-empty-group": (
        "When a chain starts with an empty group, the seed calls the next task with [] in place of "
        "ALL its arguments (its own bound ones are lost) and even calls an exceptionally handler "
        "with [] as the exception. We apply the rule it follows mid-chain: [] comes first, then "
        "the task's own arguments; handlers still only run after a failure."
    ),
    "skipped-handler-after-nested-group": (
        "Inside a group, a chain whose nested group is followed by a (skipped) exceptionally "
        "corrupts the seed's result: [[5, 6], 7] comes back as [5, 6]. We keep the group's shape."
    ),
    "skipped-handler-inside-nested-group": (
        "A group nested in a group, with a chain ending in a (skipped) exceptionally, corrupts the "
        "seed's result the same way: in_parallel([in_parallel([echo(5).exceptionally(h)]), echo(7)]) "
        "answers [5] (the nesting and the sibling's 7 are lost) and in_parallel([echo(5), "
        "in_parallel([echo(6).exceptionally(h)])]) answers [6]. We answer [[5], 7] and [5, [6]]."
    ),
    "handler-skipped-after-two-groups": (
        "When a group fails and another group (empty or not) comes before an exceptionally, the "
        "seed skips the handler too and the pipeline fails: in_parallel([add()]), in_parallel([]), "
        "exceptionally(h) raises the AggregatedError, while with a task in place of the second "
        "group the seed runs h. We run the handler in both cases: it catches any failure before it."
    ),
    "skipped-return-exceptions-group": (
        "Inside a group, when a chain fails before a nested group that has return_exceptions, the "
        "seed lets that never-run group's return_exceptions apply to the failure: "
        "in_parallel([fail().continue_with(in_parallel([echo(1)], return_exceptions=True))]) "
        "answers [[error]] instead of failing. We fail: the outer group does not return exceptions."
    ),
    "sibling-handler-catches-group-failure": (
        "In a group where one chain fails and another ends with an exceptionally, the seed may run "
        "that other chain's handler on the whole group's failure (when that chain finishes last) "
        "and answer [None, 'AggregatedError: ...'] as a success. We fail with the AggregatedError: "
        "a handler catches only its own chain's failures."
    ),
    "seed-hang": (
        "A group with a failing member followed by exceptionally never completes on the seed when the "
        "last member to finish succeeded (its driver reports error_stage=harness): a seed bug."
    ),
    "aggregate-order": (
        "Both engines list every failed task of a group, nested groups flattened; we list them in "
        "declaration order (the catalogue's rule, and deterministic whatever order results arrive "
        "in), the seed in completion order. The comparison sorts the parts: not a tag."
    ),
    "stage-error-nesting": (
        "A failure inside a num_stages group reaches the seed's aggregate wrapped once more (as the "
        "stage's run_pipeline error); ours lists the failed task directly, exactly as the same group "
        "without stages would. The comparison collapses the extra level: not a tag."
    ),
    "seed-build-error": "The seed's builder rejected the pipeline before running it.",
    "trailing-empty-group": (
        "When a pipeline's last step (before any finally) is an empty group, the seed answers the "
        "result of the last task before it (or () if none); we answer [], since an empty group "
        "replaces the previous result (the seed itself passes [] on when a task follows) and a "
        "finally never changes the outcome."
    ),
}

STATE_WRITERS = {"set_state", "merge_state"}


def classify(description: dict[str, Any], seed: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    if seed.get("error_stage") == "harness":
        found.add("seed-hang")
    if seed.get("error_stage") == "build":
        found.add("seed-build-error")
    uses_state = "state" in description.get("initial", {}) or any(
        e.get("task") in STATE_WRITERS for e in _entries(description)
    )
    top = description.get("entries", [])
    body = top[:-1] if top and top[-1].get("kind") == "finally" else top
    if body and _is_empty_group(body[-1]):
        found.add("trailing-empty-group")
    for chain in _chains(description):
        if len(chain) > 1 and _is_empty_group(chain[0]):
            found.add("leading-empty-group")
        groups_seen = 0
        for entry in chain:
            groups_seen += "group" in entry
            if entry.get("kind") == "exceptionally" and groups_seen >= 2:
                found.add("handler-skipped-after-two-groups")
    for entry in _entries(description):
        if "group" in entry:
            if any(e.get("task") in STATE_WRITERS or e.get("task") == "spawn" for c in entry["group"] for e in _entries(c)):
                found.add("group-state-merge")
            if entry["group"] and _is_empty_group(entry):
                found.add("nested-empty-groups")
            for chain in entry["group"]:
                steps = chain["entries"]
                if any("group" in a and b.get("kind") == "exceptionally" for a, b in zip(steps, steps[1:], strict=False)):
                    found.add("skipped-handler-after-nested-group")
                if len(entry["group"]) > 1 and steps and steps[-1].get("kind") == "exceptionally":
                    found.add("sibling-handler-catches-group-failure")
                if any("group" in step and step.get("return_exceptions") for step in steps[1:]):
                    found.add("skipped-return-exceptions-group")
                for nested in (step for step in steps if "group" in step):
                    if any(e.get("kind") == "exceptionally" for c in nested["group"] for e in c["entries"]):
                        found.add("skipped-handler-inside-nested-group")
            if entry.get("return_exceptions") and any(len(c["entries"]) > 1 for c in entry["group"]):
                found.add("return-exceptions-skipped-tail")
            if (entry.get("num_stages") or 1) > 1 and len(entry["group"]) > 1 and entry.get("return_exceptions"):
                found.add("stages-return-exceptions")
        if entry.get("kind") == "exceptionally" and uses_state:
            found.add("handler-loses-state")
    return found


def _is_empty_group(entry: dict[str, Any]) -> bool:
    return "group" in entry and not any("task" in e for c in entry["group"] for e in _entries(c))


def _chains(description: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Every chain's entry list: the pipeline's, each group's and each spawned child's."""
    yield description.get("entries", [])
    for entry in description.get("entries", []):
        for chain in entry.get("group", []):
            yield from _chains(chain)
        child = entry.get("kwargs", {}).get("description")
        if entry.get("task") == "spawn" and child:
            yield from _chains(child)


def _entries(description: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every entry, nested groups and spawned children included."""
    for entry in description.get("entries", []):
        yield entry
        if "group" in entry:
            for chain in entry["group"]:
                yield from _entries(chain)
        child = entry.get("kwargs", {}).get("description")
        if entry.get("task") == "spawn" and child:
            yield from _entries(child)

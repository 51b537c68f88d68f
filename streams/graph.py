"""graph([...]): OpenStack TaskFlow's graph flow, built into an ordinary pipeline.

Each step names what it requires (its parameter names, or `@tasks.bind(requires=[...])`) and what
it provides (`@tasks.bind(provides="name")`). The graph is checked when it is built (a missing
input, two steps providing one name, a cycle: each named), then laid out in levels: a step runs as
soon as the level before it has finished, beside every other step whose inputs are ready, as an
`in_parallel` group. Between levels the named values travel as one dict (the flow's store): the
orchestrator passes each step the values it requires as keyword arguments and adds each result
under its name, without a round trip to a worker (builtins in events/decide.py). The graph's
result is that dict, so a graph is a pipeline like any other: a step of one, or continued by one.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from events.errors import PipelineDefinitionError
from events.spec import (
    BUILTIN_GRAPH_INPUTS,
    BUILTIN_GRAPH_MERGE,
    BUILTIN_IDENTITY,
    Entry,
    EntryKind,
    GroupEntry,
    PipelineSpec,
    TaskEntry,
)
from events.values import ensure_carriable
from streams.builder import PipelineBuilder
from streams.ids import new_id
from streams.task import BoundTask


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: steps may look alike
class Node:
    """One step of a graph: a chain whose first task takes its inputs by name."""

    label: str  # how messages name it
    entries: tuple[Entry, ...]
    requires: tuple[str, ...]  # names it cannot run without
    optional: tuple[str, ...]  # names it takes when present (parameters with defaults)
    provides: str | None


def node(step: Any, provides: str | None = None, requires: Iterable[str] | None = None, **fixed: Any) -> Node:
    """One step of a graph, where a bare task is not enough:

    - `node(task, x=1)` fixes some of a task's inputs (those names are then not required);
    - `node(task, provides="name")` / `requires=[...]` override what the task declares;
    - `node(pipeline, provides="name", requires=[...])` runs a whole pipeline as one step: its
      first task gets `requires` by name and the pipeline's result is provided as `provides`.
    """
    if isinstance(step, BoundTask):
        for name, value in fixed.items():
            ensure_carriable(value, f"argument {name!r} of task {step.name}")
        required, optional = _parameters(step) if step.requires is None else (tuple(step.requires), ())
        if requires is not None:
            required, optional = tuple(requires), ()
        required = tuple(n for n in required if n not in fixed)
        optional = tuple(n for n in optional if n not in fixed)
        entry = step.entry((), dict(fixed), EntryKind.NORMAL)
        entry = replace(entry, requires=required + optional)
        return Node(step.name, (entry,), required, optional, provides or step.provides)
    if isinstance(step, PipelineBuilder):
        if fixed:
            raise PipelineDefinitionError("node(pipeline, ...) takes no fixed inputs: bind them on its tasks")
        spec = step.to_spec()
        if not spec.entries or not isinstance(spec.entries[0], TaskEntry):
            raise PipelineDefinitionError("a graph node's pipeline must start with a task (task.send(...))")
        names = tuple(requires or ())
        first = replace(spec.entries[0], requires=names)
        return Node(f"the pipeline starting with {first.task_name}", (first, *spec.entries[1:]), names, (), provides)
    raise PipelineDefinitionError(f"a graph step must be a bound task, node(...) or a pipeline in node(...), not {step!r}")


def graph(steps: Iterable[Any], expects: Iterable[str] = (), **inputs: Any) -> PipelineBuilder:
    """A graph flow of `steps` (bound tasks, or `node(...)`), with `inputs` as named values any
    step may require. Its result is the dict of every named value (inputs and results).

    Args:
        expects: names that come from the previous step's result (a dict) when the graph
            continues a pipeline, beside `inputs`.
    """
    nodes = [_node(step) for step in steps]
    if not nodes:
        raise PipelineDefinitionError("graph([...]) needs at least one task")
    for name, value in inputs.items():
        ensure_carriable(value, f"graph input {name!r}")
    levels = _levels(nodes, set(inputs) | set(expects))
    entries: list[Entry] = [TaskEntry(new_id(), BUILTIN_GRAPH_INPUTS, args=(dict(inputs),))]
    for level in levels:
        keep = PipelineSpec((TaskEntry(new_id(), BUILTIN_IDENTITY),))  # the store, past the level
        chains = (keep, *(PipelineSpec(n.entries) for n in level))
        entries.append(GroupEntry(new_id(), chains, graph_level=True))
        entries.append(TaskEntry(new_id(), BUILTIN_GRAPH_MERGE, args=tuple(n.provides or "" for n in level)))
    return PipelineBuilder(entries)


def _node(step: Any) -> Node:
    if isinstance(step, PipelineBuilder):  # e.g. task.send("ACME"): which name would it provide?
        raise PipelineDefinitionError(
            "a graph step must be a bound task or node(...): fix a task's inputs by name with "
            "node(task, stock='ACME'); run a pipeline as a step with node(pipeline, provides=..., requires=[...])"
        )
    return step if isinstance(step, Node) else node(step)


def _parameters(task: BoundTask) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) input names of a task: its parameters, less what the runtime passes
    first (a context, a state) and *args / **kwargs."""
    params = list(inspect.signature(task.fn).parameters.values())
    params = params[int(task.with_context) + int(task.with_state):]
    named = [p for p in params if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    required = tuple(p.name for p in named if p.default is inspect.Parameter.empty)
    optional = tuple(p.name for p in named if p.default is not inspect.Parameter.empty)
    return required, optional


def _levels(nodes: list[Node], given: set[str]) -> list[list[Node]]:
    """The nodes in levels: each after every level holding a node it needs. Raises for a missing
    input, a name provided twice or a cycle, naming the steps."""
    providers: dict[str, Node] = {}
    for n in nodes:
        if n.provides is None:
            continue
        if n.provides in providers:
            raise PipelineDefinitionError(
                f"{providers[n.provides].label} and {n.label} both provide {n.provides!r}: "
                "a graph's names are unique (set provides= on one of them through node(...))"
            )
        if n.provides in given:
            raise PipelineDefinitionError(f"{n.label} provides {n.provides!r}, which is also an input of the graph")
        providers[n.provides] = n
    for n in nodes:
        for name in n.requires:
            if name not in providers and name not in given:
                raise PipelineDefinitionError(
                    f"{n.label} requires {name!r}, which no step of the graph provides and no input "
                    f"gives: add a step with provides={name!r}, or pass {name}=... to graph() "
                    "(or expects=[...] for a value the previous step's dict result carries)"
                )
    needs = {id(n): {providers[x] for x in (*n.requires, *n.optional) if x in providers and x not in given} for n in nodes}
    level_of: dict[int, int] = {}
    remaining = list(nodes)
    while remaining:
        ready = [n for n in remaining if all(id(d) in level_of for d in needs[id(n)])]
        if not ready:
            raise PipelineDefinitionError(f"the graph has a cycle: {_cycle(remaining, needs)}")
        for n in ready:
            level_of[id(n)] = 1 + max((level_of[id(d)] for d in needs[id(n)]), default=-1)
        remaining = [n for n in remaining if id(n) not in level_of]
    levels: list[list[Node]] = [[] for _ in range(max(level_of.values()) + 1)]
    for n in nodes:
        levels[level_of[id(n)]].append(n)
    return levels


def _cycle(stuck: list[Node], needs: dict[int, set[Node]]) -> str:
    """One cycle among nodes that can never run, as `a -> b -> a` (each needs the next)."""
    start = stuck[0]
    path: list[Node] = []
    current = start
    while current not in path:
        path.append(current)
        current = next(d for d in needs[id(current)] if d in stuck)
    loop = path[path.index(current):] + [current]
    return " -> ".join(f"{n.label} (needs {m.provides!r})" if m is not None else n.label
                       for n, m in zip(loop, [*loop[1:], None], strict=True))

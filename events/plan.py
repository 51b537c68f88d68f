"""An index over a `PipelineSpec`, built once per run, so each event costs O(1) to place.

Chains are numbered depth first (the pipeline itself is chain 0); each knows its parent group,
each group its parent chain, each task its chain and position.
"""
from __future__ import annotations

from dataclasses import dataclass

from events.spec import Entry, EntryKind, GroupEntry, PipelineSpec, TaskEntry, iter_tasks


@dataclass(frozen=True, slots=True)
class ChainPlan:
    chain_id: int
    entries: tuple[Entry, ...]
    group_id: str | None  # None for the pipeline's own chain
    index: int  # position among the parent group's chains


@dataclass(frozen=True, slots=True)
class GroupPlan:
    entry: GroupEntry
    chain_ids: tuple[int, ...]
    parent_chain: int
    position: int  # index of the group entry in its parent chain
    task_uids: tuple[str, ...]  # every task inside, for skipping the group in one step

    @property
    def is_empty(self) -> bool:
        # A group with no task anywhere inside collapses to [] (nested empty groups included).
        return not self.task_uids


@dataclass(frozen=True, slots=True)
class TaskPlan:
    entry: TaskEntry
    chain_id: int
    position: int


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    chains: tuple[ChainPlan, ...]
    groups: dict[str, GroupPlan]
    tasks: dict[str, TaskPlan]
    finally_uid: str | None

    @staticmethod
    def of(spec: PipelineSpec) -> PipelinePlan:
        chains: dict[int, ChainPlan] = {}
        groups: dict[str, GroupPlan] = {}
        tasks: dict[str, TaskPlan] = {}
        # Ids are handed out when a chain is queued, so the order of the walk does not matter.
        pending: list[tuple[int, PipelineSpec, str | None, int]] = [(0, spec, None, 0)]
        next_id = 1
        while pending:
            chain_id, chain_spec, group_id, index = pending.pop()
            chains[chain_id] = ChainPlan(chain_id, chain_spec.entries, group_id, index)
            for position, entry in enumerate(chain_spec.entries):
                if isinstance(entry, TaskEntry):
                    tasks[entry.uid] = TaskPlan(entry, chain_id, position)
                    continue
                child_ids = tuple(range(next_id, next_id + len(entry.chains)))
                next_id += len(entry.chains)
                uids = tuple(t.uid for c in entry.chains for t in iter_tasks(c))
                groups[entry.group_id] = GroupPlan(entry, child_ids, chain_id, position, uids)
                pending.extend(
                    (cid, c, entry.group_id, i)
                    for i, (cid, c) in enumerate(zip(child_ids, entry.chains, strict=True))
                )
        finally_uid = next(
            (e.uid for e in spec.entries if isinstance(e, TaskEntry) and e.kind is EntryKind.FINALLY),
            None,
        )
        return PipelinePlan(tuple(chains[i] for i in range(len(chains))), groups, tasks, finally_uid)

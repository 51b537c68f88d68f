"""The pipelines and schedules a replica owns, summed up for listing and filtering.

The table holds each pipeline's whole state, pickled: listing 100,000 of them from RocksDB would
unpickle every one. This index keeps a few fields each, fed by the orchestrator's loop (an
Observer) and rebuilt from the table after partitions move; finished pipelines leave it with the
retention, as they leave the table.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from agents.observer import Observer
from events.limiter import LimiterState
from events.messages import SCHEDULE_KEY_PREFIX
from events.schedule import ScheduleState
from events.spec import is_builtin
from events.state import PipelineState
from streams.pipeline_view import schedule_summary


@dataclass(frozen=True, slots=True)
class Summary:
    pipeline_id: str
    status: str
    started_at: float | None
    finished_at: float | None
    task_names: frozenset[str]
    tasks_total: int
    root_pipeline_id: str

    @staticmethod
    def of(state: PipelineState) -> Summary:
        names = [plan.entry.task_name for plan in state.plan.tasks.values() if not is_builtin(plan.entry.task_name)]
        return Summary(
            state.pipeline_id,
            state.status.name,
            state.started_at,
            state.finished_at,
            _shared(frozenset(names)),
            len(names),
            state.root_pipeline_id,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "pipeline_id": self.pipeline_id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tasks": self.tasks_total,
            "task_names": sorted(self.task_names),
            "root_pipeline_id": self.root_pipeline_id,
        }


# Equal sets of task names, one object: a frozenset costs 216 bytes or more, and each finished
# pipeline's summary stays for the retention (24 h by default). Most pipelines share a handful of
# sets: 100,000 single-task summaries took 390 bytes each with a set apiece, 174 shared
# (tracemalloc). Sets past the first few thousand distinct ones are not kept.
_TASK_NAME_SETS: dict[frozenset[str], frozenset[str]] = {}
_TASK_NAME_SETS_KEPT = 4096


def _shared(names: frozenset[str]) -> frozenset[str]:
    kept = _TASK_NAME_SETS.get(names)
    if kept is not None:
        return kept
    if len(_TASK_NAME_SETS) < _TASK_NAME_SETS_KEPT:
        _TASK_NAME_SETS[names] = names
    return names


class PipelineIndex(Observer):
    """Fed as the orchestrator folds, and from the table after partitions move."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Summary] = {}
        self._schedules: dict[str, dict[str, Any]] = {}

    # -- fed by the orchestrator ---------------------------------------------------------------

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        self.loaded(state)

    def loaded(self, state: Any) -> None:
        if isinstance(state, PipelineState):
            summary = Summary.of(state) if self._changed(state) else None
            if summary is not None:
                self._pipelines[state.pipeline_id] = summary
        elif isinstance(state, ScheduleState):
            self._schedules[state.definition.name] = schedule_summary(state)
        elif state is not None and not isinstance(state, LimiterState):
            raise TypeError(f"unexpected state in the table: {type(state).__name__}")

    def forgotten(self) -> None:
        self._pipelines.clear()
        self._schedules.clear()

    def removed(self, pipeline_id: str) -> None:
        """`pipeline_id`: the table key, `schedule:<name>` for a schedule."""
        if pipeline_id.startswith(SCHEDULE_KEY_PREFIX):
            self._schedules.pop(pipeline_id[len(SCHEDULE_KEY_PREFIX):], None)
        self._pipelines.pop(pipeline_id, None)

    # -- read by the web API -------------------------------------------------------------------

    def pipelines(
        self,
        status: set[str] | None = None,
        task_name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[Summary]:
        """Newest first: started at or after `since`, before `until`."""
        found = [
            s for s in self._pipelines.values()
            if (status is None or s.status in status)
            and (task_name is None or task_name in s.task_names)
            and (since is None or (s.started_at is not None and s.started_at >= since))
            and (until is None or (s.started_at is not None and s.started_at < until))
        ]
        found.sort(key=lambda s: s.started_at or 0.0, reverse=True)
        return found[:limit]

    def counts_by_status(self) -> Counter[str]:
        return Counter(s.status for s in self._pipelines.values())

    def schedules(self) -> list[dict[str, Any]]:
        return sorted(self._schedules.values(), key=lambda s: s["name"])

    def _changed(self, state: PipelineState) -> bool:
        # A wide fan-out folds thousands of results with the same status: its summary stays.
        known = self._pipelines.get(state.pipeline_id)
        return known is None or known.status != state.status.name or known.finished_at != state.finished_at \
            or known.started_at != state.started_at

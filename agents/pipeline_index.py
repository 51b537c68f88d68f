"""The pipelines and schedules a replica owns, summed up for listing and filtering.

The table holds each pipeline's whole state, pickled: listing 100,000 of them from RocksDB would
unpickle every one. This index keeps a few fields each, fed by the orchestrator's loop (an
Observer) and rebuilt from the table after partitions move: every running pipeline, and the
MAX_FINISHED that finished last. Like Flower's `max_tasks`: the retention keeps finished
pipelines in the table for a day by default, and a summary each cost about 300 bytes for as long
(at 100 pipelines a second, 8.6 million). Older finished pipelines are still found by id (from
the table), and counted by status (the orchestrator's expiry queue counts them).
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
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


MAX_FINISHED = 10_000


class PipelineIndex(Observer):
    """Fed as the orchestrator folds, and from the table after partitions move."""

    def __init__(self, max_finished: int = MAX_FINISHED) -> None:
        self.max_finished = max_finished
        self._running: dict[str, Summary] = {}
        self._finished: dict[str, Summary] = {}  # the latest to finish, at most max_finished
        # (finished at, id) of each kept finished summary, the earliest on top: the next to drop.
        # Entries of summaries since dropped, run again or finished again stay until they surface.
        self._by_finish: list[tuple[float, str]] = []
        self._schedules: dict[str, dict[str, Any]] = {}
        # Finished pipelines of this replica's partitions by status, all of them (the orchestrator
        # sets it: its expiry queue's counts); without it, those kept here are counted.
        self.finished_counts: Callable[[], Counter[str]] | None = None

    # -- fed by the orchestrator ---------------------------------------------------------------

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        self.loaded(state)

    def loaded(self, state: Any) -> None:
        if isinstance(state, PipelineState):
            if self._changed(state):
                self._keep(Summary.of(state), state.status.is_finished)
        elif isinstance(state, ScheduleState):
            self._schedules[state.definition.name] = schedule_summary(state)
        elif state is not None and not isinstance(state, LimiterState):
            raise TypeError(f"unexpected state in the table: {type(state).__name__}")

    def forgotten(self) -> None:
        self._running.clear()
        self._finished.clear()
        self._by_finish.clear()
        self._schedules.clear()

    def removed(self, pipeline_id: str) -> None:
        """`pipeline_id`: the table key, `schedule:<name>` for a schedule."""
        if pipeline_id.startswith(SCHEDULE_KEY_PREFIX):
            self._schedules.pop(pipeline_id[len(SCHEDULE_KEY_PREFIX):], None)
        self._running.pop(pipeline_id, None)
        self._finished.pop(pipeline_id, None)

    # -- read by the web API -------------------------------------------------------------------

    def pipelines(
        self,
        status: set[str] | None = None,
        task_name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[Summary]:
        """Newest first: started at or after `since`, before `until`; of the finished ones, the
        MAX_FINISHED that finished last."""
        found = [
            s for pipelines in (self._running, self._finished) for s in pipelines.values()
            if (status is None or s.status in status)
            and (task_name is None or task_name in s.task_names)
            and (since is None or (s.started_at is not None and s.started_at >= since))
            and (until is None or (s.started_at is not None and s.started_at < until))
        ]
        found.sort(key=lambda s: s.started_at or 0.0, reverse=True)
        return found[:limit]

    def counts_by_status(self) -> Counter[str]:
        counts = Counter(s.status for s in self._running.values())
        counts.update(self.finished_counts() if self.finished_counts else (s.status for s in self._finished.values()))
        return counts

    def schedules(self) -> list[dict[str, Any]]:
        return sorted(self._schedules.values(), key=lambda s: s["name"])

    def _changed(self, state: PipelineState) -> bool:
        # A wide fan-out folds thousands of results with the same status: its summary stays.
        known = self._running.get(state.pipeline_id) or self._finished.get(state.pipeline_id)
        return known is None or known.status != state.status.name or known.finished_at != state.finished_at \
            or known.started_at != state.started_at

    def _keep(self, summary: Summary, finished: bool) -> None:
        pipeline_id = summary.pipeline_id
        if not finished:
            self._finished.pop(pipeline_id, None)  # (run again)
            self._running[pipeline_id] = summary
            return
        self._running.pop(pipeline_id, None)
        self._finished[pipeline_id] = summary
        heapq.heappush(self._by_finish, (summary.finished_at or 0.0, pipeline_id))
        while len(self._finished) > self.max_finished:
            at, oldest = heapq.heappop(self._by_finish)
            kept = self._finished.get(oldest)
            if kept is not None and (kept.finished_at or 0.0) == at:
                del self._finished[oldest]
        if len(self._by_finish) > 2 * len(self._finished) + 1024:  # mostly stale: rebuilt
            self._by_finish = [(s.finished_at or 0.0, i) for i, s in self._finished.items()]
            heapq.heapify(self._by_finish)

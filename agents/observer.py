"""Observer: a hook around the orchestrator's loop (agents/orchestrator.py) for what only watches
it: metrics, the web API's index, the dashboard's activity, answers to HTTP actions."""
from __future__ import annotations

from typing import Any


class Observer:
    """Sees what was folded and decided, once the decisions are out. Observers keep views, never
    state that counts: after a crash they may see an event twice, or miss one a new owner folds.
    Every hook does nothing unless a subclass says otherwise."""

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        """`event` was folded into `state` (at its log time `at`) and `decisions` are sent."""

    def loaded(self, state: Any) -> None:
        """A state read from the table after partitions moved (running or finished)."""

    def forgotten(self) -> None:
        """Partitions moved: what was learnt about others' pipelines may be stale."""

    def removed(self, pipeline_id: str) -> None:
        """A finished pipeline (or a schedule, `schedule:<name>`) left the table (the retention)."""

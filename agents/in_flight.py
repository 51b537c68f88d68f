"""Which consumed requests a worker may commit: per partition, everything before the oldest
request whose outcome the broker has not acknowledged yet.

Requests run concurrently and finish in any order; a partition's offset can only move past a
request once it and every request before it are done (at-least-once: a crash re-runs whatever was
not committed, and the orchestrator's fold drops duplicate outcomes). Pure; not thread-safe.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable


class InFlight:
    def __init__(self) -> None:
        self._pending: dict[Hashable, set[int]] = {}  # partition -> offsets started, not done
        self._next: dict[Hashable, int] = {}  # partition -> one past the highest offset started

    def start(self, tp: Hashable, offset: int) -> None:
        self._pending.setdefault(tp, set()).add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def finish(self, tp: Hashable, offset: int) -> None:
        """The request's outcome is on the broker (a partition already forgotten is ignored)."""
        pending = self._pending.get(tp)
        if pending is not None:
            pending.discard(offset)

    def count(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def committable(self) -> dict[Hashable, int]:
        """The offset to commit per partition: the oldest still pending, or one past the last."""
        return {tp: min(pending) if pending else self._next[tp] for tp, pending in self._pending.items()}

    def forget(self, tps: Iterable[Hashable]) -> None:
        """Partitions taken away: their new owner commits them from now on."""
        for tp in tps:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)

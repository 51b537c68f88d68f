"""Pipeline statuses and the one table of legal transitions."""
from __future__ import annotations

import enum

from events.errors import IllegalTransitionError


class PipelineStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REVERTING = "REVERTING"  # failed unhandled: undoing the completed tasks that have a revert
    REVERTED = "REVERTED"
    REVERT_FAILED = "REVERT_FAILED"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def accepts_actions(self) -> bool:
        """Pause, unpause and cancel are allowed only before the pipeline has finished."""
        return self in (PipelineStatus.PENDING, PipelineStatus.RUNNING, PipelineStatus.PAUSED)


S = PipelineStatus
FINISHED = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.REVERTED, S.REVERT_FAILED})

# A paused pipeline can still finish: tasks already in flight keep running and may end it.
TRANSITIONS: dict[PipelineStatus, frozenset[PipelineStatus]] = {
    S.PENDING: frozenset({S.RUNNING, S.PAUSED, S.CANCELLING, S.COMPLETED, S.FAILED, S.REVERTING}),
    S.RUNNING: frozenset({S.PAUSED, S.CANCELLING, S.COMPLETED, S.FAILED, S.REVERTING}),
    S.PAUSED: frozenset({S.RUNNING, S.CANCELLING, S.COMPLETED, S.FAILED, S.REVERTING}),
    S.CANCELLING: frozenset({S.CANCELLED, S.FAILED}),  # FAILED: its input rejected meanwhile
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.REVERTING: frozenset({S.REVERTED, S.REVERT_FAILED, S.FAILED}),  # FAILED: its input rejected meanwhile
    S.REVERTED: frozenset(),
    S.REVERT_FAILED: frozenset(),
}


def transition(current: PipelineStatus, new: PipelineStatus) -> PipelineStatus:
    if new not in TRANSITIONS[current]:
        raise IllegalTransitionError(f"pipeline status cannot go from {current.name} to {new.name}")
    return new

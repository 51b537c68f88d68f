"""Pausing a worker's request partitions while every slot is busy, and resuming them.

librdkafka keeps a partition paused through a rebalance that takes it away and gives it back:
the application paused it, so only the application resumes it. A worker that was full when its
group session timed out (a broker died and took the group coordinator with it) lost its
partitions, freed a slot, resumed nothing (it had no partitions then) and got them back still
paused: it never fetched a request again. So a new assignment is always brought to the state the
worker wants, whatever the gate remembers about the old one.
"""
from __future__ import annotations

from typing import Any


class RequestGate:
    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self._paused = False
        self._reassigned = False  # partitions were assigned since the gate last set their state

    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """The consumer's on_assign callback (run inside poll(), before the assignment applies:
        the next open() or close() sets the state of the partitions it brings)."""
        self._reassigned = True

    def open(self) -> None:
        """A slot is free: fetch requests."""
        if self._paused or self._reassigned:
            self._consumer.resume(self._consumer.assignment())
            self._paused = self._reassigned = False

    def close(self) -> None:
        """Every slot is busy: fetch nothing, but keep polling (rebalances, group membership)."""
        if not self._paused or self._reassigned:
            self._consumer.pause(self._consumer.assignment())
            self._paused, self._reassigned = True, False

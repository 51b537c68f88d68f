"""The pass over the table that rebuilds, after partitions move, what the orchestrator derives
from its states: the retry and timeout wakeups, the expiry queue, the pipeline index.

It reads every state of the replica's partitions, finished ones included, for as long as the
retention keeps them. Restarting an orchestrator with 100,000 finished single-task pipelines
(Apache Kafka, 2 cores), the pass took 9.7 s in one go, and held up the event loop, heartbeats
included, for all of it: the first new pipeline had its reply 14.1 s after the restart. A day's
retention may keep millions, minutes of that: past the session timeout the group drops the
replica, and the next rebalance starts the pass over. So it runs in slices of `SLICE_S` with
breaks of `BREAK_S`, half the loop: the same restart gave a first reply after 5.4 and 8.3 s,
round trips of 20-22 ms (p50) while the pass went on, and the pass took 25-26 s. Meanwhile:

- The pass reads the table as it was when the pass began (a RocksDB iterator's snapshot). A
  pipeline a batch has changed since the rebalance has its wakeup, queue entry and summary from
  that batch, newer: the pass skips it (`changed`).
- Partitions may move again: the pass stops at its next break, and the next assignment starts
  a new one (`restart`).
- The wakeups known so far fall due as usual; the expiry queue and the index fill as the pass
  goes, and `/ready` says the replica is not ready until it ends.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

SLICE_S = 0.005  # how long the pass runs before it hands the event loop back ...
# ... for this long, or more. A record goes through many turns of the loop (faust's consumer,
# its stream, the agent's batch): with 1 ms breaks after 10 ms slices, a pipeline submitted at
# the restart above had its reply only after the pass ended.
BREAK_S = 0.005


class Reload:
    def __init__(self, slice_s: float = SLICE_S, break_s: float = BREAK_S) -> None:
        self.slice_s = slice_s
        self.break_s = break_s
        self.done = False  # the current assignment's pass has visited every state
        self.running = False  # a pass is under way (perhaps one that partitions moving has stopped)
        self._generation = 0
        self._changed: set[bytes] = set()

    def restart(self) -> None:
        """Partitions moved (or the replica starts over): a pass under way stops, a new one is due."""
        self._generation += 1
        self._changed.clear()
        self.done = False

    def changed(self, key: bytes) -> None:
        """A batch has folded an event of pipeline `key`, or the retention removed it: its state in
        the pass's snapshot may be out of date."""
        if not self.done:
            self._changed.add(key)

    async def run(self, items: Iterable[tuple[bytes, Any]], visit: Callable[[bytes, Any], None]) -> bool:
        """`visit(key, state)` for each of `items` (the table's) unchanged since the last
        `restart`. True once all are visited; False if partitions moved meanwhile."""
        generation = self._generation
        self.running = True
        try:
            deadline = time.monotonic() + self.slice_s
            for key, state in items:
                if key not in self._changed:
                    visit(key, state)
                if time.monotonic() >= deadline:
                    await asyncio.sleep(self.break_s)
                    if self._generation != generation:
                        return False  # (checked before the iterator moves on: its partitions may be gone)
                    deadline = time.monotonic() + self.slice_s
        finally:
            self.running = False
        self.done = True
        self._changed.clear()
        return True

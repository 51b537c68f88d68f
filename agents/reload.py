"""The pass over the table that rebuilds, after partitions move, what the orchestrator derives
from its states: the retry and timeout wakeups, the expiry queue, the pipeline index.

It reads every state of the replica's partitions, finished ones included, as long as the
retention keeps them: a finished single-task state takes 34 µs to unpickle, so 100,000 take
about 3.4 s, and the millions a day's retention may keep take minutes. Done in one go, that
held up the event loop, heartbeats included: past the session timeout the group drops the
replica, and the next rebalance starts the pass over. So it hands the loop back every
`SLICE_S`, and batches go on meanwhile. Two consequences:

- The pass reads the table as it was when the pass began (a RocksDB iterator's snapshot). A
  pipeline a batch has changed since has its wakeup, queue entry and summary from that batch,
  newer: the pass skips it (`changed`).
- Partitions may move again during the pass: it stops at its next break, and the next
  assignment starts a new one (`restart`).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

SLICE_S = 0.05  # how long the pass runs before it hands the event loop back


class Reload:
    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self.done = False  # the current assignment's pass has visited every state
        self._generation = 0
        self._changed: set[bytes] = set()

    def restart(self) -> None:
        """Partitions moved (or the replica starts over): a pass under way stops, a new one is due."""
        self._generation += 1
        self._changed.clear()
        self.done = False

    def changed(self, key: bytes) -> None:
        """A batch has changed pipeline `key`: its state in the pass's snapshot is out of date."""
        if not self.done:
            self._changed.add(key)

    async def run(self, items: Iterable[tuple[bytes, Any]], visit: Callable[[bytes, Any], None]) -> bool:
        """`visit(key, state)` for each of `items` (the table's) no batch has changed since the
        pass began. True once all are visited; False if partitions moved meanwhile."""
        generation = self._generation
        deadline = time.monotonic() + self.slice_s
        for key, state in items:
            if key not in self._changed:
                visit(key, state)
            if time.monotonic() >= deadline:
                await asyncio.sleep(0)
                if self._generation != generation:
                    return False  # (checked before the iterator moves on: its partitions may be gone)
                deadline = time.monotonic() + self.slice_s
        self.done = True
        self._changed.clear()
        return True

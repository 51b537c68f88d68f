"""The orchestrator's own bookkeeping of which input offsets it has processed, per partition.

Why not faust's acks: around rebalances faust's consumer can hand the agent a partition's records
with one missing (a record fetched in an older generation is skipped without being redelivered),
and its ack tracking then commits past the hole (issue #3). Every such loss strands a pipeline.
So the orchestrator reads its input topic with faust's acks off, checks every record against the
offset it expects next, asks for a seek back when one is missing, and commits only offsets it has
processed. Pure: the agent performs the seeks, commits and clock reads.
"""
from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any


class Verdict(enum.Enum):
    PROCESS = "process"  # the next record: fold it
    DUPLICATE = "duplicate"  # already processed in this assignment (a re-fetch): drop it
    SEEK_BACK = "seek back"  # records before this one went missing: re-read from `expected`
    WAIT = "wait"  # fetched before the seek back: it comes again after it, in order


@dataclass
class Cursor:
    expected: int  # the offset to process next
    progressed_at: float  # when a record was last processed (or the cursor started)
    gap_at: int | None = None  # the first offset seen beyond `expected`, once a seek back was asked


class OffsetGuard:
    def __init__(self) -> None:
        self._cursors: dict[Hashable, Cursor] = {}

    def reset(self) -> None:
        """Partitions moved: another replica may have processed them meanwhile."""
        self._cursors.clear()

    def knows(self, tp: Hashable) -> bool:
        return tp in self._cursors

    def start(self, tp: Hashable, offset: int, now: float) -> None:
        """Begin at the group's committed offset (or the log start, if nothing was committed)."""
        self._cursors[tp] = Cursor(expected=offset, progressed_at=now)

    def admit(self, tp: Hashable, offset: int, now: float) -> Verdict:
        cursor = self._cursors[tp]
        if offset < cursor.expected:
            return Verdict.DUPLICATE
        if offset == cursor.expected:
            return self._advance(cursor, offset, now)
        if cursor.gap_at is None:
            cursor.gap_at = offset
            # The re-read needs a fetch round: the stall check must not take a partition idle
            # until now for stalled and seek again meanwhile, forgetting the gap (a marker of a
            # transaction mid-partition then looped: seek back, stall, seek back, ...).
            cursor.progressed_at = now
            return Verdict.SEEK_BACK
        if offset <= cursor.gap_at:
            # Re-read after the seek back and still beyond `expected`: the offsets in between hold
            # no records (transaction markers, compaction). Accept the jump.
            return self._advance(cursor, offset, now)
        return Verdict.WAIT

    def skip(self, tp: Hashable, start: int, end: int) -> None:
        """Offsets [start, end) hold no records (transaction markers): expect `end` next, if the
        cursor still expects `start`."""
        cursor = self._cursors.get(tp)
        if cursor is not None and cursor.expected == start:
            cursor.expected = end
            cursor.gap_at = None

    def expected(self, tp: Hashable) -> int:
        return self._cursors[tp].expected

    def committable(self) -> dict[Any, int]:
        """Offsets to commit: everything before them has been processed (and, once the agent has
        awaited its writes, is durable)."""
        return {tp: cursor.expected for tp, cursor in self._cursors.items()}

    def stalled(self, highwaters: dict[Any, int], now: float, after_s: float) -> list[tuple[Any, int]]:
        """Partitions with records waiting beyond `expected` but no progress for `after_s`: the
        consumer lost its place (or left the partition paused). Each is reported once per
        `after_s`, with the offset to seek back to."""
        stuck = []
        for tp, highwater in highwaters.items():
            cursor = self._cursors.get(tp)
            if cursor is not None and highwater > cursor.expected and now - cursor.progressed_at > after_s:
                cursor.progressed_at = now
                stuck.append((tp, cursor.expected))  # a gap seen stays known: the re-read may confirm it
        return stuck

    @staticmethod
    def _advance(cursor: Cursor, offset: int, now: float) -> Verdict:
        cursor.expected = offset + 1
        cursor.gap_at = None
        cursor.progressed_at = now
        return Verdict.PROCESS

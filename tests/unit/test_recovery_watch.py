"""The watch over faust's table recovery: a changelog partition that still owes records but
delivers none is read again from the offset after the last one applied."""
from __future__ import annotations

from agents.recovery import stalled_changelogs

A, B = ("changelog", 0), ("changelog", 1)


def test_a_partition_silent_since_recovery_started_is_read_from_its_start() -> None:
    assert stalled_changelogs({A: 13}, {A: -1}, {}, started_at=10.0, now=13.0, stall_after_s=3.0) == {A: 0}


def test_a_partition_that_went_silent_is_read_from_after_the_last_applied_offset() -> None:
    stalled = stalled_changelogs({A: 5, B: 5}, {A: 7, B: 7}, {A: 11.0, B: 12.5}, started_at=10.0, now=14.5, stall_after_s=3.0)
    assert stalled == {A: 8}  # B delivered 2 s ago: still flowing


def test_nothing_is_read_again_before_the_stall_time_or_when_nothing_is_owed() -> None:
    assert stalled_changelogs({A: 13}, {A: -1}, {}, started_at=10.0, now=12.9, stall_after_s=3.0) == {}
    assert stalled_changelogs({A: 0}, {A: 12}, {}, started_at=0.0, now=100.0, stall_after_s=3.0) == {}

"""The orchestrator's offset bookkeeping: records are folded in offset order, each once; a record
missing from what the consumer delivered is read again, never skipped."""
from __future__ import annotations

from agents.offsets import OffsetGuard, Verdict

TP = ("pipeline-events", 0)


def guard_at(offset: int, now: float = 0.0) -> OffsetGuard:
    guard = OffsetGuard()
    guard.start(TP, offset, now)
    return guard


def test_records_in_order_are_processed_and_become_committable() -> None:
    guard = guard_at(5)
    assert [guard.admit(TP, o, 1.0) for o in (5, 6, 7)] == [Verdict.PROCESS] * 3
    assert guard.committable() == {TP: 8}


def test_a_record_delivered_again_is_a_duplicate() -> None:
    guard = guard_at(5)
    guard.admit(TP, 5, 1.0)
    assert guard.admit(TP, 5, 1.0) is Verdict.DUPLICATE
    assert guard.admit(TP, 4, 1.0) is Verdict.DUPLICATE
    assert guard.committable() == {TP: 6}


def test_a_missing_record_asks_for_a_seek_back_and_nothing_beyond_it_is_processed() -> None:
    guard = guard_at(10)
    assert guard.admit(TP, 12, 1.0) is Verdict.SEEK_BACK  # 10 and 11 never came
    assert guard.expected(TP) == 10
    assert guard.admit(TP, 13, 1.0) is Verdict.WAIT  # fetched before the seek back
    assert guard.committable() == {TP: 10}
    # after the seek the records come again, in order
    assert [guard.admit(TP, o, 2.0) for o in (10, 11, 12, 13)] == [Verdict.PROCESS] * 4
    assert guard.committable() == {TP: 14}


def test_offsets_without_records_are_accepted_once_read_again() -> None:
    # A transaction marker (or compaction) leaves an offset with no record: the re-read shows it.
    guard = guard_at(10)
    assert guard.admit(TP, 11, 1.0) is Verdict.SEEK_BACK
    assert guard.admit(TP, 11, 2.0) is Verdict.PROCESS  # read again, 10 still absent
    assert guard.committable() == {TP: 12}


def test_a_partition_with_waiting_records_and_no_progress_is_reported_once_per_period() -> None:
    guard = guard_at(3, now=0.0)
    assert guard.stalled({TP: 3}, now=10.0, after_s=3.0) == []  # nothing waits
    assert guard.stalled({TP: 7}, now=2.0, after_s=3.0) == []  # not long enough
    assert guard.stalled({TP: 7}, now=10.0, after_s=3.0) == [(TP, 3)]
    assert guard.stalled({TP: 7}, now=11.0, after_s=3.0) == []  # reported; wait again
    assert guard.stalled({TP: 7}, now=14.0, after_s=3.0) == [(TP, 3)]


def test_reset_forgets_every_partition() -> None:
    guard = guard_at(3)
    guard.reset()
    assert not guard.knows(TP)
    assert guard.committable() == {}


def test_offsets_holding_only_transaction_markers_are_skipped_if_still_expected() -> None:
    guard = guard_at(3)
    guard.skip(TP, 3, 5)  # a probe found no record at 3 or 4
    assert guard.expected(TP) == 5 and guard.committable() == {TP: 5}
    guard.skip(TP, 3, 9)  # a stale answer: the cursor has moved on meanwhile
    assert guard.expected(TP) == 5


def test_a_gap_seen_on_a_partition_idle_until_then_survives_the_stall_check() -> None:
    # A transaction marker mid-partition: 1 is a marker, 2 the next record, after a quiet spell.
    guard = guard_at(1, now=0.0)
    assert guard.admit(TP, 2, 10.0) is Verdict.SEEK_BACK
    assert guard.stalled({TP: 3}, now=10.2, after_s=0.5) == []  # the seek back gets its fetch round
    assert guard.stalled({TP: 3}, now=11.0, after_s=0.5) == [(TP, 1)]  # ... and is asked again after
    assert guard.admit(TP, 2, 11.2) is Verdict.PROCESS  # the re-read confirms: 1 holds no record

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


def test_a_stalled_partition_is_resumed_as_faust_s_own_partition_type() -> None:
    # Recovery's maps can be keyed by aiokafka's TopicPartition; faust's consumer crashes on the
    # next fetch if one enters its set of active partitions (seen in bench/chaos.py).
    import asyncio
    from types import SimpleNamespace

    from aiokafka import TopicPartition
    from faust.types import TP

    from agents.recovery import reread_stalled_recovery

    theirs = TopicPartition("changelog", 3)
    resumed: list[set[object]] = []

    async def seek(tp: object, offset: int) -> None: ...

    recovery = SimpleNamespace(
        in_recovery=True,
        signal_recovery_start=asyncio.Event(),
        _recovery_started_at=0.0,
        _active_events_received_at={},
        active_offsets={theirs: 347},
        active_remaining=lambda: {theirs: 10},
    )
    app = SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery),
        consumer=SimpleNamespace(seek=seek, resume_partitions=resumed.append),
    )
    asyncio.run(reread_stalled_recovery(app, stall_after_s=0.0))
    [[tp]] = resumed
    assert type(tp) is TP and tp == TP("changelog", 3)

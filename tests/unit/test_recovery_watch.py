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


def fake_recovery_app(probe_answer: bool) -> tuple[object, object, list[object], list[str]]:
    import asyncio
    from types import SimpleNamespace

    from faust.types import TP

    tp = TP("changelog", 2)
    seeks: list[object] = []
    calls: list[str] = []

    async def seek(tp: object, offset: int) -> None:
        seeks.append((tp, offset))

    recovery = SimpleNamespace(
        in_recovery=True,
        signal_recovery_start=asyncio.Event(),
        signal_recovery_end=asyncio.Event(),
        _recovery_started_at=0.0,
        _active_events_received_at={},
        active_offsets={tp: 4},
        active_highwaters={tp: 5},
        flush_buffers=lambda: calls.append("flush"),
        _set_recovery_ended=lambda: calls.append("ended"),
    )
    recovery.active_remaining = lambda: {k: recovery.active_highwaters[k] - v for k, v in recovery.active_offsets.items()}
    recovery.need_recovery = lambda: any(n > 0 for n in recovery.active_remaining().values())

    class Probe:
        async def holds_records(self, tp: object, start: int, end: int) -> bool:
            calls.append(f"probe {start}-{end}")
            return probe_answer

    app = SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery),
        consumer=SimpleNamespace(seek=seek, resume_partitions=lambda tps: None),
    )
    return app, Probe(), seeks, calls


def test_a_changelog_ending_in_transaction_markers_ends_recovery_without_reading_again() -> None:
    import asyncio

    from agents.recovery import reread_stalled_recovery

    app, probe, seeks, calls = fake_recovery_app(probe_answer=False)
    asyncio.run(reread_stalled_recovery(app, stall_after_s=0.0, probe=probe))
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    assert calls == ["probe 5-6", "flush", "ended"] and recovery.signal_recovery_end.is_set()
    assert seeks == [] and not recovery.need_recovery()


def test_a_changelog_still_holding_records_is_read_again_under_exactly_once_too() -> None:
    import asyncio

    from agents.recovery import reread_stalled_recovery

    app, probe, seeks, calls = fake_recovery_app(probe_answer=True)
    asyncio.run(reread_stalled_recovery(app, stall_after_s=0.0, probe=probe))
    assert calls == ["probe 5-6"] and [offset for _, offset in seeks] == [5]  # type: ignore[misc]

"""A watch over faust's table recovery, which can wait forever for changelog records.

faust 0.15.3 drops records that arrive while its flow is stopped or its generation changes, yet
the consumer's position has moved past them. When that hits a changelog partition being
restored, recovery waits for offsets that will never come again, and the replica never leaves
recovery: every pipeline of its partitions stalls (seen after a replica kill, issue #3; the
upstream reports are faust-streaming #155 and #176). The cure is to read the partition again
from the offset recovery needs next; records it already has are skipped by recovery itself.

Under exactly-once the changelog ends in transaction markers, offsets that are never delivered:
recovery counts them as owed. When a probe of the log (agents/log_probe.py) finds only markers
left, recovery has everything, and this watch ends it as faust itself would.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from faust.types import TP

log = logging.getLogger("kafka_tasks.orchestrator")


def stalled_changelogs(
    remaining: Mapping[Any, int],
    applied: Mapping[Any, int],
    received_at: Mapping[Any, float],
    started_at: float,
    now: float,
    stall_after_s: float,
) -> dict[Any, int]:
    """Changelog partitions that still owe records but delivered none for `stall_after_s`
    (counting from the start of recovery when none came at all), each with the offset to read
    from: the one after the last applied (-1 when nothing was)."""
    return {
        tp: max(applied[tp] + 1, 0)
        for tp, owed in remaining.items()
        if owed > 0 and now - received_at.get(tp, started_at) >= stall_after_s
    }


async def reread_stalled_recovery(app: Any, stall_after_s: float, probe: Any = None) -> None:
    recovery = app.tables.recovery
    # (app.rebalancing stays set until recovery ends, so it cannot gate this check)
    if not recovery.in_recovery or recovery.signal_recovery_start.is_set():
        return  # not restoring, or a new rebalance is about to restart recovery anyway
    started_at = recovery._recovery_started_at
    if started_at is None:
        return
    now = time.monotonic()
    received_at = recovery._active_events_received_at
    stalled = stalled_changelogs(
        recovery.active_remaining(), recovery.active_offsets, received_at, started_at, now, stall_after_s
    )
    for key, offset in stalled.items():
        if probe is not None:
            last = recovery.active_highwaters[key]  # the last offset (faust keeps highwater - 1)
            if not await probe.holds_records(key, offset, last + 1):
                if not recovery.in_recovery or recovery.signal_recovery_start.is_set():
                    return  # ended or restarted while the probe read
                log.info("%s: table recovery has every record (offsets %s-%s are transaction markers)", key, offset, last)
                recovery.active_offsets[key] = last
                continue
        # Recovery's maps may be keyed by aiokafka's TopicPartition, which equals and hashes like
        # faust's TP, but faust's set of active partitions asserts that it holds TPs only: one
        # of aiokafka's crashes the consumer the next time it fetches.
        tp = TP(key.topic, key.partition)
        log.warning("%s: table recovery needs offset %s but nothing arrives; reading again from there", tp, offset)
        await app.consumer.seek(tp, offset)
        app.consumer.resume_partitions({tp})
        received_at[tp] = now  # the re-read gets its own stall_after_s
    if probe is not None and stalled and recovery.in_recovery and not recovery.need_recovery():
        end_recovery(recovery)


def end_recovery(recovery: Any) -> None:
    """What faust's recovery does when its last owed record arrives (faust/tables/recovery.py,
    `_maybe_signal_recovery_end`): otherwise it would notice only after 5 s without records."""
    recovery.flush_buffers()
    recovery._set_recovery_ended()
    recovery.signal_recovery_end.set()

"""Whether a partition holds a committed record in a range of offsets.

Under exactly-once (agents/output.py) every transaction leaves a marker in each partition it
wrote: an offset that no consumer is ever handed. Counting offsets alone, a partition whose last
offset is a marker always seems to owe one more record, so both of the orchestrator's watches
(table recovery, agents/recovery.py; its input, OffsetGuard.stalled) would wait or re-read
forever. Before they re-read, they ask here, with a consumer of our own: faust's may have lost
records (the reason the watches exist), so its position proves nothing.
"""
from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

PROBE_TIMEOUT_S = 5.0


class LogProbe:
    def __init__(self, bootstrap_servers: str, max_fetch_bytes: int) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.max_fetch_bytes = max_fetch_bytes

    async def holds_records(self, tp: Any, start: int, end: int) -> bool:
        """Whether `tp` holds a committed record at an offset in [start, end). Undecided within
        PROBE_TIMEOUT_S counts as yes: the caller then re-reads, which is always safe."""
        partition = TopicPartition(tp.topic, tp.partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=self.max_fetch_bytes,
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            consumer.assign([partition])
            consumer.seek(partition, start)
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while time.monotonic() < deadline:
                fetched = (await consumer.getmany(partition, timeout_ms=200, max_records=1)).get(partition, [])
                if fetched:
                    return fetched[0].offset < end
                # Past markers and aborted records the position moves on without a record.
                if await consumer.position(partition) >= end:
                    return False
            return True
        finally:
            await consumer.stop()

"""Run as a process (`python -m tests.integration.fetch_wait_probe BOOTSTRAP TOPIC`): the fetch wait
cap of streams/faust_app.py patches aiokafka for the whole process. Prints, as JSON, each fetch an
aiokafka consumer (configured as faust does, 1,500 ms) sent while partition 0's records waited to
be consumed and partition 1 had none, then after they were consumed: [wait ms, [partitions]]."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.protocol.fetch import FetchRequest
from confluent_kafka import Producer

from streams.admin import FETCH_WAIT_MS
from streams.faust_app import _refetch_worked_through_partitions_soon

RECORDS = 20


async def probe(bootstrap: str, topic: str) -> dict[str, list[tuple[int, list[int]]]]:
    _refetch_worked_through_partitions_soon(FETCH_WAIT_MS)
    producer = Producer({"bootstrap.servers": bootstrap})
    for _ in range(RECORDS):
        producer.produce(topic, b"x", partition=0)
    producer.flush(10)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}-probe",
                                auto_offset_reset="earliest", fetch_max_wait_ms=1500)
    await consumer.start()
    fetches: list[tuple[int, list[int]]] = []
    send = consumer._client.send

    async def recording_send(node_id: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, FetchRequest):
            fetches.append((request._max_wait_ms, sorted(p for _, parts in request.topics for p, *_ in parts)))
        return await send(node_id, request, *args, **kwargs)

    consumer._client.send = recording_send
    phases: dict[str, list[tuple[int, list[int]]]] = {}
    try:
        received = sum(map(len, (await consumer.getmany(timeout_ms=10_000, max_records=1)).values()))
        # Past aiokafka's prefetch backoff (100 ms): it fetches partition 1 without partition 0.
        await asyncio.sleep(0.5)
        phases["unconsumed"], fetches[:] = fetches[:], []
        while received < RECORDS:
            received += sum(map(len, (await consumer.getmany(timeout_ms=1000)).values()))
        await asyncio.sleep(0.5)
        phases["consumed"] = fetches[:]
    finally:
        await consumer.stop()
    return phases


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1], sys.argv[2]))))

"""Run as a process (`python -m tests.integration.tansu_fetch_probe BOOTSTRAP TOPIC`): the Tansu
workarounds patch aiokafka for the whole process. Prints, as JSON, the wait each fetch of an
aiokafka consumer asked the broker for, by phase (idle; from one record on; from 50 records on),
and the wait the consumer was configured with."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.protocol.fetch import FetchRequest
from confluent_kafka import Producer

from streams.brokers import tansu_compat

RECORDS = 50
RECORD_BYTES = 100


async def probe(bootstrap: str, topic: str) -> dict[str, list[int]]:
    tansu_compat.apply()
    # faust asks for 1,500 ms.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=1500)
    phases: dict[str, list[int]] = {"configured": [consumer._fetch_max_wait_ms]}
    await consumer.start()
    waits: list[int] = []
    send = consumer._client.send

    async def recording_send(node_id: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, FetchRequest):
            waits.append(request._max_wait_ms)
        return await send(node_id, request, *args, **kwargs)

    consumer._client.send = recording_send
    try:
        await asyncio.sleep(0.5)  # empty fetches
        phases["idle"], waits[:] = waits[:], []
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
        producer.produce(topic, b"x" * RECORD_BYTES)
        producer.flush(10)
        await consumer.getone()
        await consumer.getmany(timeout_ms=300)  # (asking on: aiokafka fetches again once a fetch is read)
        phases["after_one"], waits[:] = waits[:], []
        for _ in range(RECORDS):
            producer.produce(topic, b"x" * RECORD_BYTES)
        producer.flush(10)
        received = 0
        while received < RECORDS:
            received += sum(map(len, (await consumer.getmany(timeout_ms=1000)).values()))
        await consumer.getmany(timeout_ms=500)  # empty again
        phases["after_records"] = waits[:]
    finally:
        await consumer.stop()
    return phases


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1], sys.argv[2]))))

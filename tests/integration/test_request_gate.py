"""The worker's request gate on a real consumer: partitions the worker paused while full, lost in a
rebalance and got back, are fetched from again once a slot frees (librdkafka alone keeps them
paused: the worker hung after a broker kill, see agents/request_gate.py)."""
from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from agents.request_gate import RequestGate
from streams.admin import consumer_config, ensure_topics, producer_config
from streams.settings import Settings

pytestmark = pytest.mark.kafka
confluent_kafka = pytest.importorskip("confluent_kafka")


def poll_until(consumer: Any, done: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the consumer's assignment never changed"
        consumer.poll(0.1)


def test_partitions_paused_before_a_rebalance_are_fetched_from_when_they_come_back(broker: Any) -> None:
    settings = Settings(app_id="gate", bootstrap_servers=broker.bootstrap_servers,
                        broker=getattr(broker, "kind", "kafka"))
    topic = f"gate-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.with_(partitions=1), [topic])  # one partition: the records come in order
    producer = confluent_kafka.Producer(producer_config(settings))
    for i in range(3):
        producer.produce(topic, str(i).encode())
    producer.flush(30)

    consumer = confluent_kafka.Consumer(consumer_config(settings, f"gate-{uuid.uuid4().hex[:8]}"))
    gate = RequestGate(consumer)
    try:
        consumer.subscribe([topic], on_assign=gate.on_assign)
        poll_until(consumer, consumer.assignment)
        gate.close()  # every slot busy
        consumer.unsubscribe()  # the group session is lost: the partitions go ...
        poll_until(consumer, lambda: not consumer.assignment())
        gate.open()  # ... a slot frees while the worker has no partitions ...
        consumer.subscribe([topic], on_assign=gate.on_assign)  # ... and they come back

        fetched: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(fetched) < 3 and time.monotonic() < deadline:
            gate.open()  # as the worker's loop does before each fetch
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                fetched.append(message.value())
        assert fetched == [b"0", b"1", b"2"]
    finally:
        consumer.close()

"""The app's topics, created by the admin code on the real broker with the configs it honours."""
from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from streams.admin import ensure_app_topics
from streams.settings import Settings

pytestmark = pytest.mark.kafka


def test_app_topics_with_retention(broker: Any) -> None:
    settings = Settings(
        app_id="topics-test", bootstrap_servers=broker.bootstrap_servers, broker=broker.kind,
        partitions=3, retention_ms=3_600_000,
    )
    topics = ensure_app_topics(settings, (None, "gpu"))
    ensure_app_topics(settings, (None, "gpu"))  # idempotent
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    metadata = admin.list_topics(timeout=10).topics
    for name in (topics.pipeline_events, topics.replies, topics.status, topics.requests(None), topics.requests("gpu")):
        assert len(metadata[name].partitions) == 3, name
    if broker.kind != "kafka":
        return  # Tansu stores configs but the check below is about the reference broker
    def retention(name: str) -> str:
        resource = ConfigResource("topic", name)
        return admin.describe_configs([resource])[resource].result(10)["retention.ms"].value

    assert retention(topics.requests("gpu")) == "3600000"
    assert retention(topics.replies) == "3600000"
    assert retention(topics.pipeline_events) != "3600000"  # the replay log keeps the default


def test_every_producer_puts_a_pipeline_on_the_same_partition(broker: Any) -> None:
    # Clients and workers produce with confluent-kafka, the orchestrator with aiokafka (faust):
    # one pipeline's events must share a partition, or they are folded out of order.
    from aiokafka.partitioner import DefaultPartitioner
    from confluent_kafka import Producer

    from streams.admin import producer_config

    settings = Settings(app_id="partitioner-test", bootstrap_servers=broker.bootstrap_servers, broker=broker.kind,
                        partitions=8)
    topic = ensure_app_topics(settings).pipeline_events
    producer = Producer(producer_config(settings))
    landed: dict[bytes, int] = {}
    keys = [f"pipeline-{i}".encode() for i in range(64)]
    for key in keys:
        producer.produce(topic, key=key, value=b"x", on_delivery=lambda _, m: landed.__setitem__(m.key(), m.partition()))
    assert producer.flush(30) == 0
    aiokafka = DefaultPartitioner()
    assert landed == {key: aiokafka(key, list(range(8)), list(range(8))) for key in keys}
    assert len(set(landed.values())) > 1

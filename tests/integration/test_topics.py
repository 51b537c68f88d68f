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

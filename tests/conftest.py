"""Session fixtures shared by every tier: the real broker the Kafka tests run against."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

TEST_BROKER_ENV = "KAFKA_TASKS_TEST_BROKER"


@pytest.fixture(scope="session")
def broker() -> Iterator[Any]:
    """A real broker over TCP, picked by KAFKA_TASKS_TEST_BROKER: `kafka` (Apache Kafka, KRaft,
    fetched from Maven Central) or `tansu` (the local dev broker)."""
    kind = os.environ.get(TEST_BROKER_ENV, "kafka")
    if kind == "tansu":
        from streams.brokers.tansu import TansuBroker

        with TansuBroker() as started:
            yield started
    elif kind == "kafka":
        from streams.brokers.kafka import start_kafka

        cluster = start_kafka(nodes=1)
        try:
            yield cluster
        finally:
            cluster.stop()
    else:
        raise pytest.UsageError(f"{TEST_BROKER_ENV} must be 'kafka' or 'tansu', not {kind!r}")

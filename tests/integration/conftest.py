"""Integration tests: they start real brokers (Apache Kafka from Maven Central jars)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from streams.client import KafkaTasksClient
from streams.settings import Settings
from tests.integration.deployment import connection, spawn_replica
from tests.integration.replica_app import tasks
from tests.processes import Processes

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skip rather than fail on machines without a JDK: the rest of the suite still means something.
    # Only this directory's tests: elsewhere `kafka` tests may run against Tansu, which needs no JDK.
    from streams.brokers.kafka import default_cache_dir

    missing = [] if shutil.which("java") else ["java"]
    if not (default_cache_dir() / "complete.stamp").exists() and not shutil.which("mvn"):
        missing.append("mvn")
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"Apache Kafka tests need {' and '.join(missing)} on PATH")
    for item in items:
        if item.path.resolve().is_relative_to(HERE) and item.get_closest_marker("kafka"):
            item.add_marker(skip)


@pytest.fixture
def deployment(broker: Any, tmp_path: Any, request: Any) -> Any:
    """Two replicas and a worker; `indirect` parametrization picks the replicas' guarantee."""
    guarantee = getattr(request, "param", "at least once")
    if guarantee == "exactly once" and broker.kind != "kafka":
        pytest.skip("exactly-once needs Apache Kafka")
    flags = ["--exactly-once"] if guarantee == "exactly once" else []
    settings = Settings(app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers, broker=broker.kind)
    processes = Processes(tmp_path)
    spawn_replica(processes, broker, "replica-a", *flags)
    spawn_replica(processes, broker, "replica-b", *flags)
    processes.spawn("worker", "worker", "-A", "tests.integration.replica_app", *connection(broker))
    client = KafkaTasksClient(settings)
    try:
        yield settings, client, processes
    finally:
        client.close()
        processes.stop_all()

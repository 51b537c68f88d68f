"""A three-broker Apache Kafka cluster loses the leader of the pipeline events topic (SIGKILL)
while pipelines are in flight: every pipeline still finishes, once, with the right result."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.brokers.kafka import KafkaCluster, start_kafka
from streams.client import KafkaTasksClient
from streams.replay import finished_per_pipeline
from streams.settings import Settings
from streams.topics import Topics
from tests.integration.replica_app import step, tasks
from tests.processes import Processes

pytestmark = pytest.mark.kafka
PIPELINES = 30
STEPS = 10


@pytest.fixture
def cluster() -> Iterator[KafkaCluster]:
    started = start_kafka(nodes=3)
    try:
        yield started
    finally:
        started.stop()


def chain(start: int) -> Any:
    pipeline = step.send(start)
    for _ in range(STEPS - 1):
        pipeline.continue_with(step)
    return pipeline


def test_a_killed_partition_leader_loses_and_duplicates_no_pipeline(cluster: KafkaCluster, tmp_path: Path) -> None:
    settings = Settings(app_id=tasks.app_id, bootstrap_servers=cluster.bootstrap_servers, broker="kafka",
                        replication_factor=3)
    common = ["--app-id", tasks.app_id, "--bootstrap-servers", cluster.bootstrap_servers, "--broker", "kafka",
              "--replication-factor", "3"]
    processes = Processes(tmp_path)
    processes.spawn("orchestrator", "orchestrator", *common, "--state-dir", str(tmp_path / "state"),
                    "--loglevel", "info")
    processes.spawn("worker", "worker", "-A", "tests.integration.replica_app", *common)
    client = KafkaTasksClient(settings)
    topics = Topics(tasks.app_id)
    try:
        try:
            assert client.submit(chain(0)).result(180) == STEPS  # everything joined and running
        except TimeoutError:  # seen once under full-suite load (stop 15): keep what the processes said
            raise AssertionError("the warm-up pipeline never finished:\n--- orchestrator:\n"
                                 + processes.log("orchestrator") + "\n--- worker:\n" + processes.log("worker")) from None
        handles = [client.submit(chain(i * 100)) for i in range(1, PIPELINES + 1)]
        time.sleep(0.5)  # pipelines are now in flight
        leader = cluster.leader_of(topics.pipeline_events, 0)
        assert leader is not None
        cluster.node(leader).kill()
        killed_at = time.monotonic()
        try:
            results = [h.result(180) for h in handles]
        except TimeoutError:  # seen twice (stops 15 and 16): the worker's group session had timed out
            raise AssertionError("pipelines lost after the leader kill:\n--- orchestrator:\n" + processes.log("orchestrator")
                                 + "\n--- worker:\n" + processes.log("worker")) from None
        print(f"\nbroker {leader} (leader of {topics.pipeline_events}[0]) SIGKILLed; all {PIPELINES} "
              f"pipelines finished {time.monotonic() - killed_at:.1f} s later")
        assert results == [i * 100 + STEPS for i in range(1, PIPELINES + 1)]
        replies = finished_per_pipeline(settings, topics.replies)
        assert {h.pipeline_id: replies[h.pipeline_id] for h in handles} == {h.pipeline_id: 1 for h in handles}
    finally:
        client.close()
        processes.stop_all()

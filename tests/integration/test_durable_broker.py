"""The local dev broker in durable mode (`kafka-tasks broker --durable DIR`): stopped and started
again on the same directory while pipelines are in flight, it still has every topic, record and
committed offset, and the pipelines complete."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.admin import consumer_config, producer_config
from streams.brokers.tansu import TansuBroker
from streams.client import KafkaTasksClient
from streams.settings import Settings
from tests.integration.replica_app import slow
from tests.processes import Processes

pytestmark = pytest.mark.kafka

APP_ID = "durable"


def test_pipelines_in_flight_complete_after_a_durable_broker_restart(tmp_path: Path) -> None:
    data = tmp_path / "broker-data"
    broker = TansuBroker(durable_dir=data, log_path=tmp_path / "broker.log")
    # Longer fetches, as `kafka-tasks broker --durable` tells its users (see Settings.fetch_wait_ms).
    settings = Settings(app_id=APP_ID, bootstrap_servers=broker.bootstrap_servers, broker="tansu", fetch_wait_ms=200)
    connection = ["--app-id", APP_ID, "--bootstrap-servers", broker.bootstrap_servers, "--broker", "tansu"]
    processes = Processes(tmp_path, env={**os.environ, "REPLICA_APP_ID": APP_ID, "KAFKA_TASKS_FETCH_WAIT_MS": "200"})
    processes.spawn("orchestrator", "orchestrator", *connection, "--state-dir", str(tmp_path / "state"))
    processes.spawn("worker", "worker", "-A", "tests.integration.replica_app", *connection)
    client = KafkaTasksClient(settings)
    try:
        assert client.submit(slow.send(-1)).result(120) == -1  # everything joined
        handles = [client.submit(slow.send(i).continue_with(slow)) for i in range(4)]
        broker.stop()  # the tasks are running, their second steps not yet requested
        assert any(data.rglob("*")), "the broker kept nothing in its directory"
        broker = TansuBroker(port=broker.port, durable_dir=data, log_path=tmp_path / "broker.log")
        try:
            results = [h.result(180) for h in handles]
        except TimeoutError:
            raise AssertionError("pipelines lost in the broker restart:\n" + processes.log("orchestrator")) from None
        assert results == list(range(4))
        processes.check_alive()
    finally:
        client.close()
        processes.stop_all()
        broker.stop()


def test_producers_started_together_each_keep_their_records(tmp_path: Path) -> None:
    # Tansu hands out producer ids by a conditional update of one S3 object; if the S3 server
    # ignored the condition, producers started together would share an id and the broker would
    # drop all but one of their first records as "duplicates" while acknowledging them.
    with TansuBroker(durable_dir=tmp_path / "data", log_path=tmp_path / "broker.log") as broker:
        settings = Settings(app_id="together", bootstrap_servers=broker.bootstrap_servers, broker="tansu", fetch_wait_ms=200)
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
        admin.create_topics([NewTopic("together", 1, 1)])["together"].result(10)
        failures: list[object] = []

        def produce_one(i: int) -> None:
            producer = Producer(producer_config(settings))  # idempotent, as every producer here
            producer.produce("together", value=str(i).encode(), partition=0,
                             on_delivery=lambda error, _: error and failures.append(error))
            if producer.flush(30):  # an assert here would only warn: it runs in a thread
                failures.append(f"producer {i}: record not delivered in 30 s")

        threads = [threading.Thread(target=produce_one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        # Read until all 8 arrive, not up to the high watermark (streams.replay.read_topic): right
        # after these writes Tansu may still report an older one, and fewer would be read.
        consumer = Consumer(consumer_config(settings, "together-check"))
        consumer.assign([TopicPartition("together", 0, 0)])
        kept: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(kept) < 8 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                kept.append(message.value())
        consumer.close()
        assert sorted(kept) == [str(i).encode() for i in range(8)]

"""`kafka-tasks replay`: the pipeline events topic alone rebuilds the orchestrator's table, equal
to the live one, without sending a single task request; republished to a lost changelog, it brings
the finished pipelines' results back."""
from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from events.codec import Codec
from events.messages import TaskFailed, TaskOutcomes, TaskSucceeded, unbatched
from streams import in_parallel
from streams.admin import ensure_orchestrator_topics
from streams.client import KafkaTasksClient
from streams.replay import read_topic
from streams.settings import Settings
from streams.topics import Topics
from tests.integration.replica_app import fails_once, step, total
from tests.processes import Processes

pytestmark = pytest.mark.kafka


def chain(start: int, length: int) -> Any:
    pipeline = step.send(start)
    for _ in range(length - 1):
        pipeline.continue_with(step)
    return pipeline


def cli(broker: Any, *args: str) -> subprocess.CompletedProcess[str]:
    connection = ["--app-id", "replay", "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    return subprocess.run([sys.executable, "-m", "streams.cli", *args, *connection],
                          capture_output=True, text=True, timeout=300)


def records_in(settings: Settings, topic: str) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "replay-counter"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions)
    finally:
        consumer.close()


def outcomes_on_the_log(settings: Settings, pipeline_id: str) -> collections.Counter[str]:
    """How many outcomes (alone or in a TaskOutcomes) each task of the pipeline has on the log."""
    codec, counts = Codec(), collections.Counter[str]()
    for record in read_topic(settings, Topics(settings.app_id).pipeline_events):
        for event in unbatched(codec.decode(record.value)):
            if isinstance(event, (TaskSucceeded, TaskFailed)) and event.pipeline_id == pipeline_id:
                counts[event.uid] += 1
    return counts


def records_of(settings: Settings, pipeline_id: str, kind: type) -> int:
    codec = Codec()
    return sum(1 for record in read_topic(settings, Topics(settings.app_id).pipeline_events)
               if record.key == pipeline_id.encode() and isinstance(codec.decode(record.value), kind))


def test_replay_rebuilds_the_live_table_sends_nothing_and_restores_a_lost_changelog(broker: Any, tmp_path: Path) -> None:
    settings = Settings(app_id="replay", bootstrap_servers=broker.bootstrap_servers, broker=broker.kind)
    topics = Topics("replay")
    connection = ["--app-id", "replay", "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    processes = Processes(tmp_path, env={**os.environ, "REPLICA_APP_ID": "replay"})  # this test deletes topics
    processes.spawn("orchestrator", "orchestrator", *connection, "--state-dir", str(tmp_path / "a"))
    processes.spawn("worker", "worker", "-A", "tests.integration.replica_app", *connection)
    client = KafkaTasksClient(settings)
    try:
        handles = [client.submit(chain(i * 10, 4)) for i in range(15)]
        handles += [client.submit(fails_once.send(1000 + i)) for i in range(5)]  # retried: timers
        # A fan-out: the worker sends outcomes that end together as TaskOutcomes records.
        handles.append(client.submit(in_parallel([step.send(i) for i in range(300)]).continue_with(total)))
        expected = [i * 10 + 4 for i in range(15)] + [1000 + i for i in range(5)] + [sum(range(1, 301))]
        assert [h.result(120) for h in handles] == expected
        time.sleep(1)  # the last states reach the changelog
        outcomes = outcomes_on_the_log(settings, handles[-1].pipeline_id)
        assert sorted(outcomes.values()) == [1] * 301  # each task's outcome once (the group's 300 and total)
        assert len(outcomes) > records_of(settings, handles[-1].pipeline_id, TaskOutcomes) > 0

        requests_before = records_in(settings, topics.requests(None))
        checked = cli(broker, "replay", "--check", "--state-dir", str(tmp_path / "replayed"))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "rebuilt 21 pipelines" in checked.stdout and "equals the live one" in checked.stdout
        assert (tmp_path / "replayed" / "replayed-pipelines.db").exists()
        assert records_in(settings, topics.requests(None)) == requests_before  # nothing re-dispatched

        # The changelog is lost: the orchestrator stops, the topic is deleted and created empty.
        processes.stop_all()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.delete_topics([topics.orchestrator_changelog])[topics.orchestrator_changelog].result(30)
        deadline = time.monotonic() + 60
        while topics.orchestrator_changelog in admin.list_topics(timeout=10).topics:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        ensure_orchestrator_topics(settings)
        republished = cli(broker, "replay", "--republish")
        assert republished.returncode == 0, republished.stdout + republished.stderr
        assert "21 states written" in republished.stdout

        processes.spawn("orchestrator-b", "orchestrator", *connection, "--state-dir", str(tmp_path / "b"))
        outcome = asyncio.run(client.get_result_async(handles[3].pipeline_id, timeout=120))
        assert outcome == 34  # the finished pipeline's result, from the rebuilt state
        assert cli(broker, "replay", "--check").returncode == 0
    finally:
        client.close()
        processes.stop_all()

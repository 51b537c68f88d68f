"""Finished pipelines leave the orchestrator's table after `finished_retention_s`: the table (and
its changelog, compacted) does not grow forever, while a running pipeline is never removed."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from events.status import PipelineStatus
from streams.client import KafkaTasksClient
from streams.replay import read_topic, wait_until_processed
from streams.settings import Settings
from streams.topics import Topics
from tests.integration.retention_app import echo, sleep_then_echo, tasks
from tests.processes import Processes

pytestmark = pytest.mark.kafka


def test_a_finished_pipeline_is_removed_after_the_retention_and_a_running_one_is_not(broker: Any, tmp_path: Path) -> None:
    app_id = tasks.app_id
    settings = Settings(app_id=app_id, bootstrap_servers=broker.bootstrap_servers, broker=broker.kind)
    connection = ["--app-id", app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    processes = Processes(tmp_path, env=dict(os.environ, KAFKA_TASKS_FINISHED_RETENTION_S="2"))
    processes.spawn("orchestrator", "orchestrator", *connection, "--state-dir", str(tmp_path / "state"))
    processes.spawn("worker", "worker", "-A", "tests.integration.retention_app", *connection)
    client = KafkaTasksClient(settings)
    try:
        finished = client.submit(echo.send(1))
        assert finished.result(120) == 1
        running = client.submit(sleep_then_echo.send(6, 2))

        async def status(pipeline_id: str) -> PipelineStatus:
            return await client.get_status_async(pipeline_id)

        assert asyncio.run(status(finished.pipeline_id)) is PipelineStatus.COMPLETED
        deadline = time.monotonic() + 30
        while asyncio.run(status(finished.pipeline_id)) is not PipelineStatus.PENDING:  # unknown again
            assert time.monotonic() < deadline, "the finished pipeline was never removed"
            time.sleep(0.5)
        assert asyncio.run(status(running.pipeline_id)) is PipelineStatus.RUNNING  # 2 s on: still there
        assert running.result(60) == 2
        changelog = [r for r in read_topic(settings, Topics(app_id).orchestrator_changelog)
                     if r.key == finished.pipeline_id.encode()]
        assert changelog[-1].value is None  # a tombstone: compaction drops the pipeline for good
        processes.check_alive()
    finally:
        client.close()
        processes.stop_all()


def test_pipelines_finished_before_a_restart_are_removed_by_the_next_replica(broker: Any, tmp_path: Path) -> None:
    # The retention's queue is rebuilt from the table whenever partitions are assigned: a new
    # replica knows what finished before it started only from the states it reads.
    app_id = tasks.app_id
    settings = Settings(app_id=app_id, bootstrap_servers=broker.bootstrap_servers, broker=broker.kind)
    connection = ["--app-id", app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    state = ["--state-dir", str(tmp_path / "state")]
    processes = Processes(tmp_path, env=dict(os.environ, KAFKA_TASKS_FINISHED_RETENTION_S="3600"))
    first = processes.spawn("orchestrator", "orchestrator", *connection, *state)
    processes.spawn("worker", "worker", "-A", "tests.integration.retention_app", *connection)
    client = KafkaTasksClient(settings)
    try:
        finished = client.submit(echo.send(1))
        assert finished.result(120) == 1
        wait_until_processed(settings)  # the next replica folds none of its events again: it reads the state
        first.terminate()
        first.wait(30)
        processes.env["KAFKA_TASKS_FINISHED_RETENTION_S"] = "2"
        processes.spawn("orchestrator-again", "orchestrator", *connection, *state)
        assert client.submit(echo.send(2)).result(120) == 2  # the new replica owns the partitions
        # Watched on the changelog, not by asking for its status: a status query is an event of the
        # pipeline's, folded and stored, which queues it again.
        deadline = time.monotonic() + 30
        while not any(r.key == finished.pipeline_id.encode() and r.value is None
                      for r in read_topic(settings, Topics(app_id).orchestrator_changelog)):
            assert time.monotonic() < deadline, "the pipeline finished before the restart was never removed"
            time.sleep(0.5)
    finally:
        client.close()
        processes.stop_all()

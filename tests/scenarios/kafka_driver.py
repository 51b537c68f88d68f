"""The scenario driver over Kafka: a real broker, the orchestrator and a worker as separate
processes (started through the CLI, as a user would), and the Python client.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from events.codec import Codec
from events.messages import PipelineStatusChanged, unbatched
from streams import PipelineBuilder, PipelineStatus
from streams.admin import consumer_config
from streams.client import KafkaTasksClient, PipelineHandle
from streams.settings import Settings
from tests.processes import Processes

S = PipelineStatus
SETTLED = {S.PAUSED, S.COMPLETED, S.FAILED, S.CANCELLED}
TIMEOUT = 60.0


class KafkaDriver:
    name = "kafka"

    def __init__(self, settings: Settings, workdir: Path, env: dict[str, str]) -> None:
        self.settings = settings
        common = ["--app-id", settings.app_id, "--bootstrap-servers", settings.bootstrap_servers, "--broker", settings.broker]
        self.processes = Processes(workdir, env)
        self.processes.spawn("orchestrator", "orchestrator", *common, "--state-dir", str(workdir / "state"))
        self.processes.spawn("worker", "worker", "-A", "tests.scenarios.catalogue", *common)
        self.client = KafkaTasksClient(settings)
        self.handles: dict[str, PipelineHandle] = {}
        self._history: dict[str, list[PipelineStatus]] = defaultdict(list)  # of the latest run
        self._seen: dict[str, int] = defaultdict(int)  # status events ever seen, per pipeline
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._status_reader = threading.Thread(target=self._read_status, daemon=True)
        self._status_reader.start()

    # -- the Driver interface ------------------------------------------------------------------

    def run(self, pipeline: PipelineBuilder) -> Any:
        return self.client.submit(pipeline).result(TIMEOUT)

    def submit(self, pipeline: PipelineBuilder) -> str:
        self.handles[pipeline.id] = self.client.submit(pipeline)
        return pipeline.id

    def wait_status(self, pipeline_id: str, status: PipelineStatus) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.status(pipeline_id) is not status:
            self._wait_for_change(deadline)

    def start(self, pipeline: PipelineBuilder) -> str:
        seen = self._seen[pipeline.id]
        handle = self.client.submit(pipeline)
        deadline = time.monotonic() + TIMEOUT
        while not handle._future.done():  # finished, rejected ...
            if self._seen[pipeline.id] > seen and self._history[pipeline.id][-1] in SETTLED:
                break  # ... or paused since this submission: it cannot go on by itself
            self._wait_for_change(deadline)
        if handle._future.done():
            reply = handle._future.result()
            if type(reply).__name__ == "SubmissionRejected":
                handle.result()  # raises ActionRejectedError
        self.handles[pipeline.id] = handle
        return pipeline.id

    def result(self, pipeline_id: str) -> Any:
        handle = self.handles.get(pipeline_id)
        if handle is not None:
            return handle.result(TIMEOUT)
        return asyncio.run(self.client.get_result_async(pipeline_id))

    def status(self, pipeline_id: str) -> PipelineStatus:
        return asyncio.run(self.client.get_status_async(pipeline_id))

    def status_history(self, pipeline_id: str) -> list[PipelineStatus]:
        # The status topic trails the reply a little: wait until it shows the current status.
        current = self.status(pipeline_id)
        deadline = time.monotonic() + 10
        while not self._history[pipeline_id] or self._history[pipeline_id][-1] is not current:
            self._wait_for_change(deadline)
        return list(self._history[pipeline_id])

    def pause(self, pipeline_id: str) -> None:
        asyncio.run(self.client.pause_async(pipeline_id))

    def unpause(self, pipeline_id: str) -> None:
        asyncio.run(self.client.unpause_async(pipeline_id))

    def cancel(self, pipeline_id: str) -> None:
        asyncio.run(self.client.cancel_async(pipeline_id))
        # A cancel ends once a finally (if any) has run: wait for it, as the in-process driver does.
        deadline = time.monotonic() + TIMEOUT
        while self.status(pipeline_id) is S.CANCELLING:
            self._wait_for_change(deadline)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self.client.close()
        self.processes.stop_all()

    def check_alive(self) -> None:
        self.processes.check_alive()

    def _read_status(self) -> None:
        codec = Codec()
        topic = self.client.topics.status
        consumer = Consumer(consumer_config(self.settings, f"{self.settings.app_id}-scenario-status"))
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        while not self._stop.is_set():
            message = consumer.poll(0.05)
            if message is None or message.error():
                continue
            for event in unbatched(codec.decode(message.value())):  # (a StatusEvents: its events)
                if isinstance(event, PipelineStatusChanged):
                    with self._changed:
                        history = self._history[event.pipeline_id]
                        if event.run > 1 and event.previous is S.PENDING:
                            history.clear()  # a re-run starts a new history
                        history.append(event.status)
                        self._seen[event.pipeline_id] += 1
                        self._changed.notify_all()
        consumer.close()

    def _wait_for_change(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            self.check_alive()
            raise TimeoutError("the pipeline did not settle in time")
        with self._changed:
            self._changed.wait(0.05)


class Watcher:
    """A client with `tasks.on`-style callbacks: it reads the status topic (from its end) and
    keeps every transition matching `pattern`."""

    def __init__(self, settings: Settings, pattern: str = "*") -> None:
        from streams.notifications import Listeners

        self.seen: list[Any] = []
        listeners = Listeners()
        listeners.add(pattern, self.seen.append)
        self.client = KafkaTasksClient(settings, listeners=listeners)

    def wait_for(self, found: Any, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not found(self.seen):
            assert time.monotonic() < deadline, f"not seen within {timeout_s:.0f} s among {self.seen}"
            time.sleep(0.1)

    def wait_until_finished(self, pipeline_id: str) -> list[Any]:
        """Every transition of the pipeline, once its final status has come."""
        self.wait_for(lambda seen: any(isinstance(e, PipelineStatusChanged) and e.pipeline_id == pipeline_id
                                       and e.status.is_finished for e in seen))
        return [e for e in self.seen if e.pipeline_id == pipeline_id]

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

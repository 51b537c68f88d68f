"""What a worker sends for the requests it runs: their outcomes, several to a record, and their
STARTED transitions.

Requests that end in the same turn of the worker's loop are sent together, once per turn: the
outcomes of one pipeline's tasks in one `TaskOutcomes` record (a single outcome as its own
TaskSucceeded or TaskFailed, as any worker may send it), and the STARTED transitions of one
pipeline's tasks that start in one turn in one `StatusEvents` on the status topic. In a wide
fan-out a worker ends tasks of the same pipeline a few at a time (its slots' worth), and each
record costs the orchestrator more than folding what it carries (faust's path per record, its
decoding): a 10,000-wide fan-out took it 4.8 s of CPU instead of 8.5. A request counts as done
once the broker has every record of it: its outcome's (alone or in a batch) and, for a problem,
its dead letter.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from agents.in_flight import InFlight
from events.codec import Codec
from events.messages import TaskFailed, TaskStatusChanged, TaskSucceeded
from streams.dead_letters import dead_letter_headers
from streams.packing import pack_limit, runs_within, status_events
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.worker")

QUEUE_FULL_WAIT_S = 30.0  # how long an outcome waits for room in librdkafka's queue


@dataclass(frozen=True)
class Handled:
    """What became of one consumed request."""

    message: Any
    outcome: TaskSucceeded | TaskFailed | None = None  # for the pipeline events topic
    encoded: bytes | None = None  # the outcome, encoded (it fits a record: the worker checked)
    problem: str | None = None  # why the request also goes to the dead letters


class Outbox:
    def __init__(self, producer: Producer, topics: Topics, codec: Codec, limit_bytes: int, in_flight: InFlight,
                 lock: threading.Lock, failures: list[Any]) -> None:
        self.producer = producer
        self.topics = topics
        self.codec = codec
        self.limit_bytes = limit_bytes
        self.in_flight = in_flight
        self.lock = lock  # (in_flight is also used by the consumer's rebalance callbacks)
        self.failures = failures
        self._pending: list[Handled] = []
        self._started: dict[str, list[TaskStatusChanged]] = {}  # pipeline id -> its STARTED transitions
        self._flush_due = False

    def add(self, handled: Handled) -> None:
        """Send `handled`'s records at the end of this turn of the loop, with those of the other
        requests that end in it."""
        self._flush_soon()
        self._pending.append(handled)

    def started(self, event: TaskStatusChanged, to_orchestrator: bool) -> None:
        """A task's STARTED: to the status topic at the end of this turn of the loop (unacknowledged:
        a notification, not part of the task's outcome); `to_orchestrator` (a run with an SLA,
        which the orchestrator watches) also to the pipeline events topic, at once."""
        if to_orchestrator:
            record = {"topic": self.topics.pipeline_events, "key": event.pipeline_id.encode(), "value": self.codec.encode(event)}
            self._produce(record, None)
        self._flush_soon()
        self._started.setdefault(event.pipeline_id, []).append(event)

    def _flush_soon(self) -> None:
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_due = False
        self._send_outcomes()
        started, self._started = self._started, {}
        try:
            for pipeline_id, changes in started.items():
                for event in status_events(pipeline_id, changes, self.limit_bytes):
                    self.producer.produce(topic=self.topics.status, key=pipeline_id.encode(), value=self.codec.encode(event))
        except BufferError as error:  # librdkafka's queue is full: a notification may go, never an outcome
            log.warning("STARTED transitions dropped, the producer's queue is full: %s", error)

    def _send_outcomes(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        records: list[tuple[dict[str, Any], list[Any]]] = []  # (record, the requests it answers)
        by_pipeline: dict[str, list[Handled]] = {}
        for handled in pending:
            if handled.outcome is not None:
                by_pipeline.setdefault(handled.outcome.pipeline_id, []).append(handled)
            if handled.problem is not None:
                records.append((self._dead_letter(handled), [handled.message]))
        for pipeline_id, outcomes in by_pipeline.items():
            for batch in runs_within(outcomes, _encoded_size, pack_limit(pipeline_id, self.limit_bytes)):
                value = batch[0].encoded if len(batch) == 1 else self.codec.encode_outcomes(
                    pipeline_id, [h.encoded for h in batch if h.encoded is not None]
                )
                record: dict[str, Any] = {"topic": self.topics.pipeline_events, "key": pipeline_id.encode(), "value": value}
                records.append((record, [h.message for h in batch]))
        remaining: dict[int, int] = {}  # id(message) -> its records not yet acknowledged
        for _, messages in records:
            for message in messages:
                remaining[id(message)] = remaining.get(id(message), 0) + 1
        for record, messages in records:
            self._produce(record, self._on_delivery(messages, remaining))

    def _produce(self, record: dict[str, Any], on_delivery: Any) -> None:
        """Hand `record` (for the orchestrator) to librdkafka; while its queue is full, wait for
        deliveries to make room (for up to QUEUE_FULL_WAIT_S: then the worker stops, and the
        request runs again)."""
        deadline = time.monotonic() + QUEUE_FULL_WAIT_S
        while True:
            try:
                self.producer.produce(**record, on_delivery=on_delivery)
                return
            except BufferError as error:
                if time.monotonic() > deadline:
                    self.failures.append(error)
                    return
                self.producer.poll(0.05)

    def _on_delivery(self, messages: list[Any], remaining: dict[int, int]) -> Any:
        def delivered(error: Any, _: Any) -> None:
            if error:
                self.failures.append(error)
                return
            for message in messages:
                remaining[id(message)] -= 1
                if remaining[id(message)] == 0:
                    with self.lock:
                        self.in_flight.finish((message.topic(), message.partition()), message.offset())

        return delivered

    def _dead_letter(self, handled: Handled) -> dict[str, Any]:
        message = handled.message
        log.error("dead-lettering the request at %s[%s]@%s: %s",
                  message.topic(), message.partition(), message.offset(), handled.problem)
        headers = dead_letter_headers(
            message.topic(), message.partition(), message.offset(), handled.problem or "", message.value()
        )
        return {"topic": self.topics.dead_letters, "key": message.key(), "value": message.value(), "headers": headers}


def _encoded_size(handled: Handled) -> int:
    return len(handled.encoded or b"")

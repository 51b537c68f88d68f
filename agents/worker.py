"""The worker: consumes one request topic in a consumer group, runs tasks, emits their outcomes.

A confluent-kafka (librdkafka) consumer rather than a faust agent: workers keep no table, and
librdkafka consumes and produces an order of magnitude faster than faust's loop (faust notes:
about 6,000 bare events/s; librdkafka: about 1,000,000 consumed and 95,000 produced per second).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer

from events.codec import Codec
from events.errors import DecodeError, PayloadTooLargeError, UnknownTaskError, UnsupportedValueError
from events.messages import TaskFailed, TaskRequested
from streams.admin import consumer_config, ensure_app_topics, producer_config
from streams.app import KafkaTasks
from streams.dead_letters import dead_letter_headers
from streams.executor import execute, failed
from streams.retry import qualified_name
from streams.settings import Settings
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.worker")

# Failures that are not the task's own: the request also goes to the dead letters, where an
# operator sees it (a worker deployed without the task, a result Kafka cannot carry).
_DEAD_LETTER_ERRORS = frozenset(qualified_name(e) for e in (UnknownTaskError, UnsupportedValueError, PayloadTooLargeError))


@dataclass(frozen=True)
class Handled:
    """What became of one consumed request."""

    message: Any
    outcome: bytes | None = None  # the encoded result or failure, for the pipeline events topic
    pipeline_id: str | None = None
    problem: str | None = None  # why the request also goes to the dead letters


class Worker:
    def __init__(self, tasks: KafkaTasks, settings: Settings, worker_name: str | None = None) -> None:
        self.tasks = tasks
        self.settings = settings
        self.worker_name = worker_name
        self.topics = Topics(settings.app_id)
        self.codec = Codec()
        self.processed = 0

    async def run(self, stop: asyncio.Event) -> None:
        ensure_app_topics(self.settings, (self.worker_name,))
        consumer = Consumer(consumer_config(self.settings, self.topics.worker_group(self.worker_name)))
        producer = Producer(producer_config(self.settings))
        consumer.subscribe([self.topics.requests(self.worker_name)])
        limit = asyncio.Semaphore(self.settings.worker_concurrency)
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(self._next_batch, consumer)
                if not batch:
                    continue
                # Step 1: run the batch's tasks, at most `worker_concurrency` at a time.
                handled = await asyncio.gather(*(self._handle(message, limit) for message in batch))
                # Step 2: produce every outcome (and dead letter) and wait until the broker has
                # them all (acks=all).
                failures: list[Any] = []
                for each in handled:
                    self._produce(producer, each, failures)
                while await asyncio.to_thread(producer.flush, 5):
                    log.warning("waiting for the broker to acknowledge this batch's outcomes")
                if failures:
                    # Without the outcomes on Kafka, committing would lose the tasks: stop instead;
                    # the batch runs again when the worker restarts.
                    raise RuntimeError(f"could not deliver task outcomes: {failures[0]}")
                # Step 3: only then commit the requests' offsets. A crash before this re-runs the
                # batch (at-least-once); the orchestrator's fold drops the duplicate outcomes.
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as error:
                    # The group moved on (a coordinator or this member's assignment was lost):
                    # whoever holds the partitions now runs the batch again; the duplicates'
                    # outcomes are dropped by the orchestrator's fold.
                    log.warning("could not commit a finished batch, it will run again: %s", error)
                self.processed += len(batch)
        finally:
            consumer.close()
            producer.flush(10)

    def _produce(self, producer: Producer, handled: Handled, failures: list[Any]) -> None:
        def on_delivery(error: Any, _: Any) -> None:
            if error:
                failures.append(error)

        if handled.outcome is not None:
            key = (handled.pipeline_id or "").encode()
            producer.produce(self.topics.pipeline_events, key=key, value=handled.outcome, on_delivery=on_delivery)
        if handled.problem is not None:
            message = handled.message
            log.error("dead-lettering the request at %s[%s]@%s: %s",
                      message.topic(), message.partition(), message.offset(), handled.problem)
            headers = dead_letter_headers(
                message.topic(), message.partition(), message.offset(), handled.problem, message.value()
            )
            producer.produce(self.topics.dead_letters, key=message.key(), value=message.value(),
                             headers=headers, on_delivery=on_delivery)

    def _next_batch(self, consumer: Consumer) -> list[Any]:
        # poll() returns as soon as one request arrives (consume(n, t) would wait out t for n);
        # then take whatever else is already fetched, without waiting.
        first = consumer.poll(0.1)
        if first is None:
            return []
        return [first, *consumer.consume(self.settings.worker_concurrency * 4 - 1, 0)]

    async def _handle(self, message: Any, limit: asyncio.Semaphore) -> Handled:
        if message.error():
            log.warning("consumer error: %s", message.error())
            return Handled(message)
        try:
            request = self.codec.decode(message.value())
        except DecodeError as error:
            return Handled(message, problem=f"not a Kafka Tasks event: {error}")
        if not isinstance(request, TaskRequested):
            return Handled(message, problem=f"a {type(request).__name__} on a request topic, where only "
                                            "TaskRequested belongs; send it to the pipeline events topic")
        async with limit:
            outcome = await execute(self.tasks, request)
        encoded = self.codec.encode(outcome)
        limit_bytes = self.settings.max_message_bytes
        if len(encoded) > limit_bytes:
            what = f"the outcome of task {request.task_name}"
            outcome = failed(request, PayloadTooLargeError.of(what, len(encoded), limit_bytes))
            encoded = self.codec.encode(outcome)
        problem = None
        if isinstance(outcome, TaskFailed) and outcome.error.exception_type in _DEAD_LETTER_ERRORS:
            problem = outcome.error.exception_message
        return Handled(message, encoded, request.pipeline_id, problem)

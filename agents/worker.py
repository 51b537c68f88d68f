"""The worker: consumes one request topic in a consumer group, runs tasks, emits their outcomes.

A confluent-kafka (librdkafka) consumer rather than a faust agent: workers keep no table, and
librdkafka consumes and produces an order of magnitude faster than faust's loop (faust notes:
about 6,000 bare events/s; librdkafka: about 1,000,000 consumed and 95,000 produced per second).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from agents.in_flight import InFlight
from agents.metrics import WorkerMetrics
from agents.outbox import Handled, Outbox
from agents.request_gate import RequestGate
from agents.worker_web import serve_worker_web
from events.codec import Codec
from events.errors import DecodeError, PayloadTooLargeError, UnknownTaskError, UnsupportedValueError
from events.messages import TaskFailed, TaskRequested
from streams.admin import consumer_config, ensure_app_topics, producer_config
from streams.app import KafkaTasks
from streams.executor import ended, execute, failed, started
from streams.retry import qualified_name
from streams.settings import Settings
from streams.task_threads import TaskThreads
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.worker")

COMMIT_INTERVAL_S = 0.2  # how often the offsets of finished requests are committed
STOP_GRACE_S = 30.0  # how long a stopping worker waits for its running tasks
FULL_POLL_S = 1.0  # how long a worker with no room goes without polling (then it pauses and polls)

# Failures that are not the task's own: the request also goes to the dead letters, where an
# operator sees it (a worker deployed without the task, a result Kafka cannot carry).
_DEAD_LETTER_ERRORS = frozenset(qualified_name(e) for e in (UnknownTaskError, UnsupportedValueError, PayloadTooLargeError))


class Worker:
    def __init__(self, tasks: KafkaTasks, settings: Settings, worker_name: str | None = None) -> None:
        self.tasks = tasks
        self.settings = settings
        self.worker_name = worker_name
        self.topics = Topics(settings.app_id)
        self.codec = Codec()
        self.processed = 0
        self.metrics = WorkerMetrics()
        # Plain functions run here, up to worker_concurrency at once (async ones in the loop).
        self._threads = TaskThreads(settings.worker_concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        ensure_app_topics(self.settings, (self.worker_name,))
        # Tracks delivered outcomes from two threads: this loop's (delivery callbacks) and the
        # fetching thread's (rebalance callbacks).
        lock = threading.Lock()
        in_flight = InFlight()

        # Requests fetched ahead, counted in flight (no commit passes them), not started yet: up to
        # `prefetch` with the running ones. Without them, a worker of quick tasks paused its
        # partitions whenever its slots were full, and librdkafka drops what it fetched ahead on a
        # pause: every few tasks waited for a fetch from the broker.
        waiting: deque[Any] = deque()
        concurrency = self.settings.worker_concurrency
        prefetch = concurrency * self.settings.worker_prefetch_multiplier

        def on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            # Commit what is done before the partitions move; requests still running there finish
            # and send their outcomes, and run again on the new owner (the fold drops duplicates),
            # as do those fetched and not started. (Called inside poll: the loop below is either
            # waiting for that poll or making it, so `waiting` is not in use.)
            gone = {(p.topic, p.partition) for p in partitions}
            with lock:
                done = _offsets(in_flight.committable())
                in_flight.forget(gone)
            kept = [message for message in waiting if (message.topic(), message.partition()) not in gone]
            waiting.clear()
            waiting.extend(kept)
            try:
                if done:
                    consumer.commit(offsets=done, asynchronous=False)
            except KafkaException as error:
                log.warning("could not commit before a rebalance; those requests run again: %s", error)

        consumer = Consumer(consumer_config(self.settings, self.topics.worker_group(self.worker_name)))
        producer = Producer(producer_config(self.settings))
        failures: list[Any] = []
        outbox = Outbox(producer, self.topics, self.codec, self.settings.max_message_bytes, in_flight, lock, failures)
        gate = RequestGate(consumer)
        consumer.subscribe([self.topics.requests(self.worker_name)], on_assign=gate.on_assign, on_revoke=on_revoke)
        port = self.settings.worker_web_port
        web = await serve_worker_web(self.settings.web_bind, port, consumer, self.metrics) if port else None
        running: set[asyncio.Task[None]] = set()
        committed: dict[Any, int] = {}
        last_commit = time.monotonic()
        last_poll = time.monotonic()
        stopping_since: float | None = None
        try:
            while True:
                if stop.is_set():
                    # Let running tasks finish and deliver (for at most STOP_GRACE_S); whatever
                    # is not done then runs again on another worker.
                    stopping_since = stopping_since or time.monotonic()
                    if not running or time.monotonic() - stopping_since > STOP_GRACE_S:
                        break
                if failures:
                    # Without the outcomes on Kafka, committing would lose the tasks: stop instead;
                    # the uncommitted requests run again when the worker restarts.
                    raise RuntimeError(f"could not deliver task outcomes: {failures[0]}")
                # Step 1: commit what is done, now and then (only offsets whose requests, and all
                # before them, have their outcomes on the broker).
                due: list[TopicPartition] = []
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    with lock:
                        offsets = in_flight.committable()
                    due = _offsets({tp: o for tp, o in offsets.items() if committed.get(tp) != o})
                    committed.update(offsets)
                    last_commit = time.monotonic()
                # Step 2: fetch up to `prefetch` requests, running and waiting. With slots free and
                # none waiting, wait briefly for one (in a thread: the consumer's calls block);
                # otherwise take only what librdkafka already holds. With no room for a second,
                # poll with the partitions paused: it serves rebalances and keeps the membership.
                # (Not sooner: a pause drops what librdkafka fetched ahead, and a worker of quick
                # tasks, full most of the time, then waited for the broker every 0.2 s, and for
                # half a second now and then.)
                room = 0 if stop.is_set() else prefetch - len(running) - len(waiting)
                idle = not stop.is_set() and len(running) < concurrency and not waiting
                if room > 0 and idle:
                    messages = await asyncio.to_thread(self._fetch, consumer, gate, room, due, 0.05)
                    last_poll = time.monotonic()
                elif room > 0 or time.monotonic() - last_poll >= FULL_POLL_S:
                    messages = self._fetch(consumer, gate, room, due, 0.0)
                    last_poll = time.monotonic()
                else:
                    messages = []
                    self._commit(consumer, due)
                for message in messages:
                    if message.error():
                        log.warning("consumer error: %s", message.error())
                        continue
                    with lock:
                        in_flight.start((message.topic(), message.partition()), message.offset())
                    waiting.append(message)
                # Step 3: each waiting request runs as soon as a slot is free; with none free and
                # nothing new, wait for a task to end.
                while waiting and not stop.is_set() and len(running) < concurrency:
                    task = asyncio.create_task(self._run_one(waiting.popleft(), outbox, failures))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if not messages and running and (stop.is_set() or len(running) >= concurrency):
                    await asyncio.wait(running, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                # Step 4: delivery callbacks run here: acknowledged outcomes make requests done.
                producer.poll(0)
                await asyncio.sleep(0)  # let the tasks just started run up to their first await
        finally:
            outbox.flush()
            producer.flush(10)
            producer.poll(0)
            with lock:
                final = _offsets(in_flight.committable())
            try:
                if final:
                    consumer.commit(offsets=final, asynchronous=False)
            except KafkaException as error:
                log.warning("could not commit on the way out; those requests run again: %s", error)
            if web is not None:
                await web.cleanup()
            consumer.close()
            self._threads.shutdown()

    def _fetch(self, consumer: Consumer, gate: RequestGate, room: int, commit: list[TopicPartition],
               wait_s: float) -> list[Any]:
        """Commit, then take up to `room` requests, waiting at most `wait_s` for the first (in a
        thread when it waits: the consumer's calls block)."""
        self._commit(consumer, commit)
        if room <= 0:
            gate.close()
            message = consumer.poll(0)  # None, except right after a rebalance (the next close() pauses what it brought)
            return [] if message is None else [message]
        gate.open()
        if wait_s <= 0:
            return list(consumer.consume(room, 0))
        # poll() returns as soon as one request arrives (consume(n, t) would wait out t for n);
        # then take whatever else is already fetched, without waiting.
        first = consumer.poll(wait_s)
        if first is None:
            return []
        return [first, *consumer.consume(room - 1, 0)] if room > 1 else [first]

    @staticmethod
    def _commit(consumer: Consumer, offsets: list[TopicPartition]) -> None:
        if offsets:
            try:
                consumer.commit(offsets=offsets, asynchronous=True)
            except KafkaException as error:
                log.warning("could not commit finished requests, they may run again: %s", error)

    async def _run_one(self, message: Any, outbox: Outbox, failures: list[Any]) -> None:
        """Run one request; the outbox sends what becomes of it."""
        try:
            handled = await self._handle(message, outbox)
        except Exception as error:  # a bug of ours, not the task's (execute() catches those)
            failures.append(error)  # stop: the request runs again after a restart
            raise
        outbox.add(handled)
        self.processed += 1

    async def _handle(self, message: Any, outbox: Outbox) -> Handled:
        try:
            request = self.codec.decode(message.value())
        except DecodeError as error:
            return Handled(message, problem=f"not a Kafka Tasks event: {error}")
        if not isinstance(request, TaskRequested):
            return Handled(message, problem=f"a {type(request).__name__} on a request topic, where only "
                                            "TaskRequested belongs; send it to the pipeline events topic")
        transition = started(request)
        outbox.started(transition, request.sla_s is not None)
        listeners = self.tasks.listeners
        if listeners:  # this process's callbacks
            listeners.dispatch(transition)
        began = time.monotonic()
        outcome = await execute(self.tasks, request, self._threads)
        self.metrics.ran(request.task_name, "failed" if isinstance(outcome, TaskFailed) else "succeeded", time.monotonic() - began)
        if listeners:  # (the orchestrator puts its own on the status topic; with no callbacks here, none is made)
            listeners.dispatch(ended(request, outcome))
        encoded = self.codec.encode(outcome)
        limit_bytes = self.settings.max_message_bytes
        if len(encoded) > limit_bytes:
            what = f"the outcome of task {request.task_name}"
            outcome = failed(request, PayloadTooLargeError.of(what, len(encoded), limit_bytes))
            encoded = self.codec.encode(outcome)
        problem = None
        if isinstance(outcome, TaskFailed) and outcome.error.exception_type in _DEAD_LETTER_ERRORS:
            problem = outcome.error.exception_message
        return Handled(message, outcome, encoded, problem)


def _offsets(committable: dict[Any, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in committable.items()]

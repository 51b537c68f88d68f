"""The client: submit pipelines to a Kafka Tasks deployment and await their outcomes."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from events import messages as m
from events.codec import Codec
from events.errors import ActionRejectedError, KafkaTasksError
from events.status import PipelineStatus
from streams.admin import consumer_config, ensure_app_topics, producer_config
from streams.builder import PipelineBuilder
from streams.errors import TaskError
from streams.notifications import Listeners
from streams.replay import read_topic
from streams.settings import Settings

DELIVERY_TIMEOUT_MS = 30_000  # how long a submission may take to reach Kafka before its handle fails
REPLIES_PER_POLL = 500  # replies taken at most per round of the reader thread
_LEADER_MOVING = {"NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PART"}


class PipelineHandle:
    """A submitted pipeline: its id, and its outcome when it arrives."""

    def __init__(self, pipeline_id: str, future: concurrent.futures.Future[Any]) -> None:
        self.pipeline_id = pipeline_id
        self._future = future

    def done(self) -> bool:
        """Whether the outcome has arrived (result() then returns at once)."""
        return self._future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Block until the pipeline finishes: its result, or raise TaskError."""
        return _outcome(self._future.result(timeout))

    async def result_async(self, timeout: float | None = None) -> Any:
        return _outcome(await asyncio.wait_for(asyncio.wrap_future(self._future), timeout))


def _outcome(reply: Any) -> Any:
    if isinstance(reply, m.SubmissionRejected):
        raise ActionRejectedError(reply.message)
    if reply.error is not None:
        raise TaskError.of(reply.error, reply.pipeline_id, reply.state, reply.status, reply.revert_failures)
    return reply.result


class KafkaTasksClient:
    """Submits pipelines and actions; a background thread reads this client's replies.

    Each client reads the replies topic from its end, with no consumer group (no group join to
    wait for), and matches replies to requests by submission or action id.
    """

    def __init__(self, settings: Settings, reply_topic: str | None = None, listeners: Listeners | None = None) -> None:
        """`listeners` (an app's `tasks.on(...)` callbacks, as `tasks.client(...)` passes them):
        this client then also reads the status topic, from its end, and calls them."""
        self.settings = settings
        self.listeners = listeners
        self.topics = ensure_app_topics(settings)
        self.reply_topic = reply_topic or self.topics.replies
        self.codec = Codec()
        # A submission's delivery failure reaches its handle within DELIVERY_TIMEOUT_MS.
        self._producer = Producer(producer_config(settings, **{"message.timeout.ms": DELIVERY_TIMEOUT_MS}))
        self._waiting: dict[str, concurrent.futures.Future[Any]] = {}
        # pipeline id -> the keys in _waiting of its RESULT queries (any PipelineFinished of the
        # pipeline answers them), so that a reply does not look through every waiting key.
        self._result_waiters: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._consumer = Consumer(consumer_config(settings, f"{settings.app_id}-client-{uuid.uuid4()}"))
        self._assign_at_end()
        self._thread = threading.Thread(target=self._read_replies, name="kafka-tasks-replies", daemon=True)
        self._thread.start()

    # -- API -----------------------------------------------------------------------------------

    def submit(self, pipeline: PipelineBuilder) -> PipelineHandle:
        """Send the pipeline; returns at once with a handle on its outcome. Delivery to Kafka is
        confirmed in the background, like any Kafka producer's: if it fails, the handle's result
        raises `KafkaTasksError` saying why. `close()` (or leaving a `with` block) waits for
        submissions still on their way."""
        pipeline.validate()
        submission_id = str(uuid.uuid4())
        future = self._expect(submission_id)
        event = m.PipelineSubmitted(pipeline.id, submission_id, pipeline.to_spec(), self.reply_topic)

        def delivered(error: Any, _: Any) -> None:
            if error is not None:
                self._fail(submission_id, self._undeliverable(event, error))

        value = self.codec.encode(event)
        while True:
            try:
                self._producer.produce(
                    self.topics.pipeline_events, key=event.pipeline_id.encode(), value=value, on_delivery=delivered
                )
                break
            except BufferError:  # the local queue is full (100,000 undelivered): wait for room
                self._producer.poll(0.1)
        self._producer.poll(0)  # serve delivery reports now and then (the replies thread does too)
        return PipelineHandle(pipeline.id, future)

    async def submit_async(self, pipeline: PipelineBuilder, timeout: float | None = None) -> Any:
        """Send the pipeline and wait for it: its result, or raise TaskError."""
        return await self.submit(pipeline).result_async(timeout)

    async def get_status_async(self, pipeline_id: str, timeout: float = 30) -> PipelineStatus:
        answer = await self._action(pipeline_id, m.Action.STATUS, timeout)
        return PipelineStatus[answer.message]

    async def get_result_async(self, pipeline_id: str, timeout: float = 30) -> Any:
        """The outcome of a finished pipeline (its result, or raise TaskError); rejected with
        ActionRejectedError while it is still running."""
        action_id = str(uuid.uuid4())
        waiter = f"result:{pipeline_id}:{action_id}"
        finished = self._expect(waiter)
        with self._lock:
            self._result_waiters.setdefault(pipeline_id, set()).add(waiter)
        try:
            await self._action(pipeline_id, m.Action.RESULT, timeout, action_id)
            return _outcome(await asyncio.wait_for(asyncio.wrap_future(finished), timeout))
        finally:
            with self._lock:
                self._waiting.pop(waiter, None)
                waiters = self._result_waiters.get(pipeline_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._result_waiters[pipeline_id]

    async def pause_async(self, pipeline_id: str, timeout: float = 30) -> None:
        await self._action(pipeline_id, m.Action.PAUSE, timeout)

    async def unpause_async(self, pipeline_id: str, timeout: float = 30) -> None:
        await self._action(pipeline_id, m.Action.UNPAUSE, timeout)

    async def cancel_async(self, pipeline_id: str, timeout: float = 30) -> None:
        await self._action(pipeline_id, m.Action.CANCEL, timeout)

    # -- schedules (events/schedule.py) -------------------------------------------------------

    def add_schedule(self, schedule: m.ScheduleDefined) -> None:
        """Put a schedule declared with `tasks.schedule(...)` on Kafka (returns once Kafka has
        it). Adding one that exists redefines it: slots already run stay run."""
        self._send(schedule)

    async def pause_schedule_async(self, name: str, timeout: float = 30) -> None:
        await self._action(m.schedule_key(name), m.Action.PAUSE, timeout)

    async def resume_schedule_async(self, name: str, timeout: float = 30) -> None:
        """Active again; slots passed while paused are caught up or skipped as the schedule says."""
        await self._action(m.schedule_key(name), m.Action.UNPAUSE, timeout)

    async def remove_schedule_async(self, name: str, timeout: float = 30) -> None:
        """No more runs (runs in progress go on); add it again to bring it back."""
        await self._action(m.schedule_key(name), m.Action.CANCEL, timeout)

    def list_schedules(self) -> list[m.ScheduleUpdated]:
        """Every schedule's latest state, by name (removed ones too: see `schedule_status`)."""
        latest: dict[str, m.ScheduleUpdated] = {}
        for record in read_topic(self.settings, self.topics.schedules):
            event = self.codec.decode(record.value or b"")
            latest[event.name] = event
        return [latest[name] for name in sorted(latest)]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._consumer.close()
        self._producer.flush(10)
        # Drop the librdkafka handles now, not at garbage collection: a broker stopped after this
        # must not make them log disconnects.
        del self._producer, self._consumer

    def __enter__(self) -> KafkaTasksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    async def _action(
        self, pipeline_id: str, action: m.Action, timeout: float, action_id: str | None = None
    ) -> m.PipelineActionApplied:
        action_id = action_id or str(uuid.uuid4())
        future = self._expect(action_id)
        self._send(m.PipelineActionRequested(pipeline_id, action_id, action, self.reply_topic))
        answer = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        if not answer.accepted:
            raise ActionRejectedError(answer.message)
        return answer

    def _expect(self, correlation_id: str) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            self._waiting[correlation_id] = future
        return future

    def _send(self, event: Any, timeout_s: float = 30.0) -> None:
        """Produce `event` and return once Kafka has it; raise if it could not be delivered."""
        failures: list[Any] = []
        self._producer.produce(
            self.topics.pipeline_events,
            key=event.pipeline_id.encode(),
            value=self.codec.encode(event),
            on_delivery=lambda error, _: failures.append(error) if error else None,
        )
        undelivered = self._producer.flush(timeout_s)
        if failures or undelivered:
            raise self._undeliverable(event, failures[0] if failures else f"no acknowledgement within {timeout_s} s")

    def _undeliverable(self, event: Any, reason: Any) -> KafkaTasksError:
        return KafkaTasksError(
            f"could not deliver {type(event).__name__} for pipeline {event.pipeline_id} to Kafka "
            f"({reason}); check the bootstrap servers ({self.settings.bootstrap_servers}) and "
            "that the brokers are up, then submit again"
        )

    def _fail(self, correlation_id: str, error: Exception) -> None:
        with self._lock:
            future = self._waiting.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_exception(error)

    def _assign_at_end(self) -> None:
        # Explicit offsets, read now: a reply produced right after submit cannot be skipped.
        topics = [self.reply_topic, *([self.topics.status] if self.listeners else [])]
        self._consumer.assign([
            TopicPartition(name, p, self._high_watermark(TopicPartition(name, p)))
            for name in topics
            for p in self._partitions(name)
        ])

    def _partitions(self, name: str, timeout_s: float = 30.0) -> list[int]:
        """A topic's partitions, once every one has a leader. Right after the topic is created a
        broker can answer with no partitions at all: assigning that would leave this client deaf
        to every reply (seen on a fresh three-node cluster, issue #9)."""
        deadline = time.monotonic() + timeout_s
        while True:
            topic = self._consumer.list_topics(name, timeout=10).topics.get(name)
            if topic is not None and topic.error is None and topic.partitions:
                if all(p.leader >= 0 for p in topic.partitions.values()):
                    return sorted(topic.partitions)
            if time.monotonic() > deadline:
                raise KafkaTasksError(
                    f"the topic {name} has no partitions with a leader after {timeout_s:.0f} s; "
                    "check that the brokers are up"
                )
            time.sleep(0.1)

    def _high_watermark(self, partition: TopicPartition, timeout_s: float = 30.0) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                high = int(self._consumer.get_watermark_offsets(partition, timeout=10)[1])
                if high >= 0:
                    return high
                # No answer yet (a new topic's leader is not known everywhere): reading "from the
                # end" instead would skip a reply produced before the fetch starts. Ask again.
                if time.monotonic() > deadline:
                    raise KafkaTasksError(f"no high watermark for {partition.topic}[{partition.partition}]; "
                                          "check that the brokers are up")
                time.sleep(0.1)
            except KafkaException as ex:
                # Right after a topic is created or a leader moves, the answer is briefly "not
                # leader": retry those, fail on anything else.
                error = ex.args[0]
                transient = error.retriable() or error.name() in _LEADER_MOVING
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _read_replies(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0)  # delivery reports of submissions
            # The first reply as soon as it arrives, then what else is already here, without
            # waiting (consume(n, t) alone would wait out t for n).
            first = self._consumer.poll(0.05)
            if first is None:
                continue
            for message in (first, *self._consumer.consume(REPLIES_PER_POLL, 0)):
                if message.error():
                    continue
                try:
                    reply = self.codec.decode(message.value() or b"")
                except Exception:  # a foreign record on the replies topic is not ours to answer
                    continue
                if message.topic() == self.topics.status:
                    if self.listeners is not None:
                        self.listeners.dispatch(reply)
                    continue
                self._resolve(reply)

    def _resolve(self, reply: Any) -> None:
        keys: list[str] = []
        if isinstance(reply, (m.PipelineFinished, m.SubmissionRejected)):
            keys.append(reply.submission_id)
        if isinstance(reply, m.PipelineActionApplied):
            keys.append(reply.action_id)
        with self._lock:
            if isinstance(reply, m.PipelineFinished):
                # A RESULT query's answer: any waiter for this pipeline's result takes it.
                keys += self._result_waiters.get(reply.pipeline_id, ())
            futures = [self._waiting.pop(k) for k in keys if k in self._waiting]
        for future in futures:
            if not future.done():
                future.set_result(reply)

"""Where each decided event goes: one routing table for the orchestrator's output."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from events import messages as m
from events.codec import Codec
from events.errors import PayloadTooLargeError
from events.task_exception import TaskException
from streams.dead_letters import dead_letter_headers
from streams.executor import failed
from streams.packing import MIN_PACK, status_events
from streams.retry import qualified_name
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.orchestrator")

_REPLIES = (m.PipelineFinished, m.SubmissionRejected, m.PipelineActionApplied)
_STATUS_TYPES = frozenset(m.STATUS_TYPES)


def destination(event: Any, topics: Topics) -> tuple[str, bytes]:
    """(topic, key) for an event the engine decided."""
    if isinstance(event, m.TaskRequested):
        # Keyed by task uid: the tasks of one pipeline spread over the request topic's partitions,
        # so every worker in the group shares a wide fan-out.
        return topics.requests(event.worker_name), event.uid.encode()
    if isinstance(event, m.ScheduleUpdated):
        return topics.schedules, event.name.encode()
    key = event.pipeline_id.encode()
    if isinstance(event, m.INPUT_TYPES):
        return topics.pipeline_events, key
    if isinstance(event, _REPLIES):
        return event.reply_topic or topics.replies, key
    if type(event) in _STATUS_TYPES or type(event) is m.StatusEvents:
        return topics.status, key
    raise TypeError(f"no topic for a {type(event).__name__} event")


class Publisher:
    """Sends decided events, and dead letters, through the orchestrator's output
    (agents/output.py: straight out, or in the transaction of the input partition they answer)."""

    def __init__(self, output: Any, topics: Topics, codec: Codec, max_message_bytes: int) -> None:
        self.output = output
        self.topics = topics
        self.codec = codec
        self.max_message_bytes = max_message_bytes

    async def publish(self, event: Any, partition: int) -> Any:
        """Send `event`, decided on an event of input `partition`; returns a future that resolves
        once the broker has it."""
        # Straight to a producer (aiokafka), not through a faust topic: a topic's send costs
        # several times more, for features (serializers, callbacks) not used here.
        return await self.output.send(*self._record(event, partition))

    async def publish_all(self, decided: list[tuple[Any, int]]) -> list[Any]:
        """`publish` for many (event, input partition) pairs at once, in their order: batched
        by topic partition where the output can, a pipeline's status events packed."""
        # (A generator: each record is encoded as the output takes it.)
        return list(await self.output.send_many(
            self._record(event, partition) for event, partition in self.packed(decided)
        ))

    def packed(self, decided: list[tuple[Any, int]]) -> Iterator[tuple[Any, int]]:
        """`decided` with the status events of each pipeline that has at least MIN_PACK of them
        gathered into StatusEvents records (each under the record size limit), sent where its
        last one was decided, or before its reply if that comes first (as decided). A
        10,000-wide fan-out decides 20,000 task transitions: one aiokafka record and one broker
        append each cost more than the event. (Among other topics' records they may come later
        than decided, which no reader can tell: topics are not ordered with each other.)"""
        counts: dict[str, int] = {}
        last: dict[str, int] = {}  # pipeline id -> where its last status event was decided
        for position, (event, _) in enumerate(decided):
            if type(event) in _STATUS_TYPES:
                counts[event.pipeline_id] = counts.get(event.pipeline_id, 0) + 1
                last[event.pipeline_id] = position
        packing = {pipeline_id for pipeline_id, count in counts.items() if count >= MIN_PACK}
        if not packing:  # (a batch of small pipelines' steps: sent as decided)
            yield from decided
            return
        gathered: dict[str, list[Any]] = {}  # pipeline id -> its status events not sent yet, in order
        for position, (event, partition) in enumerate(decided):
            if type(event) in _STATUS_TYPES and event.pipeline_id in packing:
                gathered.setdefault(event.pipeline_id, []).append(event)
                if position == last[event.pipeline_id]:
                    yield from self._packs(gathered.pop(event.pipeline_id), partition)
                continue
            if isinstance(event, _REPLIES) and event.pipeline_id in gathered:
                yield from self._packs(gathered.pop(event.pipeline_id), partition)
            yield event, partition

    def _packs(self, events: list[Any], partition: int) -> Iterator[tuple[Any, int]]:
        for record in status_events(events[0].pipeline_id, events, self.max_message_bytes):
            yield record, partition

    def _record(self, event: Any, partition: int) -> tuple[int, str, bytes, bytes]:
        value = self.codec.encode(event)
        if len(value) > self.max_message_bytes:
            event = self._within_limit(event, len(value))
            value = self.codec.encode(event)
        name, key = destination(event, self.topics)
        return partition, name, key, value

    async def dead_letter(self, record: Any, error: str) -> Any:
        """Keep an input record nobody can process on the dead-letters topic, unchanged."""
        message = record.message
        log.error("dead-lettering the record at %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)
        headers = dead_letter_headers(message.topic, message.partition, message.offset, error, message.value)
        return await self.output.send(message.partition, self.topics.dead_letters, message.key, message.value, headers)

    def _within_limit(self, event: Any, size: int) -> Any:
        """The event that stands in for one too large for Kafka: the pipeline learns why."""
        if isinstance(event, m.PermitRequested):  # a limited task's request, on its way to the limiter
            event = event.request
        if isinstance(event, m.TaskRequested):
            # Through the pipeline's own input, as if the task had failed: retries and
            # `exceptionally` apply as to any failure.
            what = f"the request for task {event.task_name} (its arguments and state)"
            return failed(event, PayloadTooLargeError.of(what, size, self.max_message_bytes))
        if isinstance(event, m.PipelineFinished):
            error = PayloadTooLargeError.of(f"the result of pipeline {event.pipeline_id}", size, self.max_message_bytes)
            exception = TaskException(event.pipeline_id, qualified_name(PayloadTooLargeError), str(error), "")
            return dataclasses.replace(event, result=None, state=None, error=exception)
        raise PayloadTooLargeError.of(f"a {type(event).__name__} event", size, self.max_message_bytes)

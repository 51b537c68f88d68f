"""What a worker sends for the requests it runs (agents/outbox.py), against a stand-in for
librdkafka's producer: outcomes of one pipeline together, STARTED transitions together, and
outcomes kept when the producer's queue is full."""
from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agents import outbox as outbox_module
from agents.in_flight import InFlight
from agents.outbox import Handled, Outbox
from events import messages as m
from events.codec import Codec
from streams.topics import Topics

codec = Codec()
TOPICS = Topics("app")


class QueueFullFor:
    """A producer whose queue is full for its first `refusals` records."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.produced: list[dict[str, Any]] = []
        self.polls = 0

    def produce(self, **record: Any) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise BufferError("Local: Queue full")
        self.produced.append(record)

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0


def in_a_loop(step: Any) -> None:
    """Run `step` inside an event loop, as the worker does (the outbox schedules its flush there)."""
    async def run() -> None:
        step()

    asyncio.run(run())


def outbox(producer: QueueFullFor, failures: list[Any]) -> Outbox:
    return Outbox(producer, TOPICS, codec, 1_000_000, InFlight(), threading.Lock(), failures)  # type: ignore[arg-type]


def succeeded(uid: str) -> Handled:
    outcome = m.TaskSucceeded("p1", 1, uid, 0, 1, None)
    return Handled(message=object(), outcome=outcome, encoded=codec.encode(outcome))


def started(uid: str) -> m.TaskStatusChanged:
    return m.TaskStatusChanged("p1", 1, uid, "demo.inc", 0, "STARTED")


def test_a_turns_outcomes_and_started_transitions_go_one_record_each_per_pipeline():
    producer, failures = QueueFullFor(0), []
    sending = outbox(producer, failures)

    def turn() -> None:
        for uid in ("t1", "t2", "t3"):
            sending.started(started(uid), to_orchestrator=False)
        for uid in ("t1", "t2"):
            sending.add(succeeded(uid))

    in_a_loop(turn)  # (the flush runs at the end of the turn)
    by_topic = {record["topic"]: codec.decode(record["value"]) for record in producer.produced}
    assert len(producer.produced) == 2 and failures == []
    assert by_topic[TOPICS.pipeline_events] == m.TaskOutcomes("p1", tuple(h.outcome for h in (succeeded("t1"), succeeded("t2"))))
    assert by_topic[TOPICS.status] == m.StatusEvents("p1", (started("t1"), started("t2"), started("t3")))


def test_an_outcome_waits_for_room_in_a_full_queue():
    producer, failures = QueueFullFor(2), []
    sending = outbox(producer, failures)
    in_a_loop(lambda: sending.add(succeeded("t1")))
    assert [codec.decode(r["value"]) for r in producer.produced] == [succeeded("t1").outcome]
    assert producer.polls == 2 and failures == []


def test_an_outcome_that_never_finds_room_stops_the_worker(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(outbox_module, "QUEUE_FULL_WAIT_S", 0.0)
    producer, failures = QueueFullFor(1_000), []
    sending = outbox(producer, failures)
    in_a_loop(lambda: sending.add(succeeded("t1")))
    assert producer.produced == [] and len(failures) == 1 and isinstance(failures[0], BufferError)


def test_started_transitions_give_way_to_outcomes_in_a_full_queue():
    producer, failures = QueueFullFor(1), []
    sending = outbox(producer, failures)

    def turn() -> None:
        sending.started(started("t1"), to_orchestrator=False)
        sending.add(succeeded("t1"))

    in_a_loop(turn)  # the outcome goes first, waits for room once; the STARTED then finds room
    assert [r["topic"] for r in producer.produced] == [TOPICS.pipeline_events, TOPICS.status]
    producer.refusals = 1
    in_a_loop(lambda: sending.started(started("t2"), to_orchestrator=False))  # a notification does not wait: dropped
    assert len(producer.produced) == 2 and failures == []

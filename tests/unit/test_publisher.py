"""Where the orchestrator's decisions go, and what stands in for one too large for Kafka."""
from __future__ import annotations

import dataclasses

import pytest

from events import messages as m
from events.codec import Codec
from events.errors import PayloadTooLargeError
from events.status import PipelineStatus
from streams.packing import MIN_PACK
from streams.publisher import Publisher, destination
from streams.topics import Topics
from tests.unit.events_sample import SAMPLES

TOPICS = Topics("app")
LIMIT = 1_000


def publisher() -> Publisher:
    return Publisher(output=None, topics=TOPICS, codec=Codec(), max_message_bytes=LIMIT)


def test_an_oversized_request_comes_back_to_its_pipeline_as_that_task_failing() -> None:
    request = dataclasses.replace(SAMPLES["TaskRequested"], args=("x" * 5_000,))
    stand_in = publisher()._within_limit(request, 5_100)
    assert isinstance(stand_in, m.TaskFailed)
    assert (stand_in.pipeline_id, stand_in.run, stand_in.uid, stand_in.attempt) == (
        request.pipeline_id, request.run, request.uid, request.attempt,
    )
    assert stand_in.error.exception_type.endswith("PayloadTooLargeError")
    assert "5,100 bytes" in stand_in.error.exception_message and "Pass a reference" in stand_in.error.exception_message
    assert destination(stand_in, TOPICS)[0] == TOPICS.pipeline_events
    assert len(Codec().encode(stand_in)) <= LIMIT


def test_an_oversized_result_reaches_the_client_as_an_error() -> None:
    finished = dataclasses.replace(SAMPLES["PipelineFinished"], result="x" * 5_000, error=None)
    stand_in = publisher()._within_limit(finished, 5_100)
    assert stand_in.result is None and stand_in.state is None
    assert stand_in.error is not None and "result of pipeline" in stand_in.error.exception_message
    assert destination(stand_in, TOPICS) == destination(finished, TOPICS)


def test_any_other_oversized_event_is_an_error() -> None:
    with pytest.raises(PayloadTooLargeError, match="PipelineStatusChanged"):
        publisher()._within_limit(SAMPLES["PipelineStatusChanged"], 5_100)


def test_an_oversized_request_of_a_limited_task_fails_that_task_too() -> None:
    request = dataclasses.replace(SAMPLES["TaskRequested"], args=("x" * 5_000,), concurrency=2)
    stand_in = publisher()._within_limit(m.PermitRequested(request, 2), 5_100)
    assert isinstance(stand_in, m.TaskFailed) and (stand_in.pipeline_id, stand_in.uid) == (request.pipeline_id, request.uid)
    assert destination(stand_in, TOPICS)[0] == TOPICS.pipeline_events


# -- a pipeline's task transitions, packed --------------------------------------------------------


def transition(uid: str, status: str = "REQUESTED", pipeline_id: str = "p1", message: str = "") -> m.TaskStatusChanged:
    return m.TaskStatusChanged(pipeline_id, 1, uid, "demo.load", 0, status, message)


def request(uid: str, pipeline_id: str = "p1") -> m.TaskRequested:
    return dataclasses.replace(SAMPLES["TaskRequested"], pipeline_id=pipeline_id, uid=uid)


def status_topic_events(packed: list[tuple[object, int]]) -> list[object]:
    """What a reader of the status topic sees, per record, with packs opened."""
    return [e for event, _ in packed if destination(event, TOPICS)[0] == TOPICS.status for e in m.unbatched(event)]


def test_a_fan_outs_transitions_go_in_one_record_after_its_requests() -> None:
    decided = [(e, 3) for i in range(5) for e in (request(f"t{i}"), transition(f"t{i}"))]
    packed = list(publisher().packed(decided))
    assert [event for event, _ in packed[:5]] == [request(f"t{i}") for i in range(5)]
    assert packed[5] == (m.StatusEvents("p1", tuple(transition(f"t{i}") for i in range(5))), 3)
    assert len(packed) == 6


def test_each_pipelines_status_events_go_together_in_order_where_its_last_was_decided() -> None:
    running = m.PipelineStatusChanged("p1", 1, PipelineStatus.RUNNING, PipelineStatus.PENDING)
    other = m.PipelineStatusChanged("p2", 1, PipelineStatus.RUNNING, PipelineStatus.PENDING)
    skipped = m.TasksSkipped("p1", 1, ("t3",))
    decided = [(e, 0) for e in (
        transition("t1"), transition("t9", pipeline_id="p2"), request("t2"), transition("t2"),
        other, running, request("t3"), transition("t1", "SUCCEEDED"), skipped, request("t4"),
    )]
    packed = list(publisher().packed(decided))
    # (p2 has two: fewer than a pack's least, they go as decided)
    assert packed == [(e, 0) for e in (
        transition("t9", pipeline_id="p2"), request("t2"), other, request("t3"),
        m.StatusEvents("p1", (transition("t1"), transition("t2"), running, transition("t1", "SUCCEEDED"), skipped)),
        request("t4"),
    )]
    assert status_topic_events(packed) == [
        transition("t9", pipeline_id="p2"), other,
        transition("t1"), transition("t2"), running, transition("t1", "SUCCEEDED"), skipped,
    ]
    assert MIN_PACK == 3
    small = [(e, 0) for e in (request("t1"), running, transition("t1"))]
    assert list(publisher().packed(small)) == small


def test_a_pipelines_status_events_go_before_its_reply() -> None:
    completed = m.PipelineStatusChanged("p1", 1, PipelineStatus.COMPLETED, PipelineStatus.RUNNING)
    reply = dataclasses.replace(SAMPLES["PipelineFinished"], pipeline_id="p1")
    other_reply = dataclasses.replace(SAMPLES["PipelineFinished"], pipeline_id="p2")
    skipped = m.TasksSkipped("p1", 1, ("t3",))
    decided = [(e, 1) for e in (transition("t1", "SUCCEEDED"), transition("t2", "SUCCEEDED"), completed,
                                other_reply, reply, skipped)]
    assert list(publisher().packed(decided)) == [(e, 1) for e in (
        other_reply,
        m.StatusEvents("p1", (transition("t1", "SUCCEEDED"), transition("t2", "SUCCEEDED"), completed)),
        reply, skipped,
    )]

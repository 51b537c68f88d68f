"""Where the orchestrator's decisions go, and what stands in for one too large for Kafka."""
from __future__ import annotations

import dataclasses

import pytest

from events import messages as m
from events.codec import Codec
from events.errors import PayloadTooLargeError
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

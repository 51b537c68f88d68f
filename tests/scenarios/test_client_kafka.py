"""The client's queries over Kafka: results of finished pipelines, statuses, unknown ids."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams import ActionRejectedError, PipelineStatus, TaskError
from tests.scenarios.catalogue import add, fail

pytestmark = pytest.mark.kafka


def test_result_of_a_finished_pipeline_can_be_asked_again(kafka_driver: Any) -> None:
    pipeline = add.send(1, 2)
    assert kafka_driver.run(pipeline) == 3
    assert asyncio.run(kafka_driver.client.get_result_async(pipeline.id)) == 3


def test_result_of_a_failed_pipeline_raises(kafka_driver: Any) -> None:
    pipeline = fail.send(message="asked again")
    with pytest.raises(TaskError):
        kafka_driver.run(pipeline)
    with pytest.raises(TaskError, match="asked again"):
        asyncio.run(kafka_driver.client.get_result_async(pipeline.id))


def test_result_of_a_paused_pipeline_is_not_there_yet(kafka_driver: Any) -> None:
    pipeline_id = kafka_driver.start(add.send(1, 2).wait().continue_with(add, 1))
    with pytest.raises(ActionRejectedError, match="Task result not found: the pipeline is PAUSED"):
        asyncio.run(kafka_driver.client.get_result_async(pipeline_id))
    kafka_driver.unpause(pipeline_id)
    assert kafka_driver.result(pipeline_id) == 4


def test_unknown_pipelines(kafka_driver: Any) -> None:
    assert asyncio.run(kafka_driver.client.get_status_async("no-such-id")) is PipelineStatus.PENDING
    with pytest.raises(ActionRejectedError, match="is unknown: submit it first"):
        asyncio.run(kafka_driver.client.cancel_async("no-such-id"))

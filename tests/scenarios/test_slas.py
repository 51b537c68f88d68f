"""SLAs (@tasks.bind(sla=...)): a run that has not started `sla` seconds after its request gets a
SlaMissed event on the status topic (tasks.on("task.sla_missed")); it still runs."""
from __future__ import annotations

import pytest

from events.messages import SlaMissed
from streams import in_parallel
from streams.admin import ensure_topics
from streams.topics import Topics
from tests.scenarios.catalogue import JOURNAL, linger, prompt, slow_prompt, unserved
from tests.scenarios.drivers import InProcessDriver
from tests.scenarios.kafka_driver import Watcher


def test_a_run_waiting_behind_another_past_its_sla_is_reported_and_still_runs():
    driver = InProcessDriver()  # one task at a time: prompt waits for linger
    pipeline = in_parallel([linger.send(0.5), prompt.send("on time?")])
    assert driver.run(pipeline) == [0.5, "on time?"]
    assert JOURNAL[f"sla-{pipeline.id}"] == ["prompt 0.2"]
    [missed] = [e for e in driver.runner.published if isinstance(e, SlaMissed)]
    assert (missed.task_name.endswith("prompt"), missed.attempt, missed.sla_s) == (True, 0, 0.2)


def test_a_run_starting_in_time_is_not_reported_however_long_it_runs():
    # The start is reported; without that the deadline would pass while the run runs.
    pipeline = slow_prompt.send(0.8)
    assert InProcessDriver().run(pipeline) == 0.8
    assert JOURNAL[f"sla-{pipeline.id}"] == []


@pytest.mark.kafka
def test_on_kafka_the_worker_reports_the_start_so_a_long_run_is_not_reported(kafka_driver):
    with Watcher(kafka_driver.settings) as watcher:
        pipeline = slow_prompt.send(0.8)
        assert watcher.client.submit(pipeline).result(60) == 0.8
        transitions = watcher.wait_until_finished(pipeline.id)  # every status event of it has come
    assert [e for e in transitions if isinstance(e, SlaMissed)] == []


@pytest.mark.kafka
def test_on_kafka_a_run_no_worker_takes_is_reported(kafka_driver):
    settings = kafka_driver.settings
    ensure_topics(settings, [Topics(settings.app_id).requests("nobody")])
    with Watcher(settings, "task.sla_missed") as watcher:
        pipeline_id = kafka_driver.submit(unserved.send(1))
        watcher.wait_for(bool)
        kafka_driver.cancel(pipeline_id)
    [missed] = watcher.seen
    assert (missed.pipeline_id, missed.task_name.rsplit(".", 1)[-1], missed.sla_s) == (pipeline_id, "unserved", 1.0)

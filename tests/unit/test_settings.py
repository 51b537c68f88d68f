"""Settings: what the environment and the CLI can set, and the combinations refused up front."""
from __future__ import annotations

import pytest

from streams.admin import TANSU_LINGER_MS, producer_config
from streams.settings import Settings


def test_exactly_once_comes_from_the_environment_as_a_boolean() -> None:
    assert Settings.from_env({"KAFKA_TASKS_APP_ID": "a", "KAFKA_TASKS_EXACTLY_ONCE": "true"}).exactly_once
    assert not Settings.from_env({"KAFKA_TASKS_APP_ID": "a", "KAFKA_TASKS_EXACTLY_ONCE": "off"}).exactly_once
    assert not Settings.from_env({"KAFKA_TASKS_APP_ID": "a"}).exactly_once  # at least once by default
    with pytest.raises(ValueError, match="expected true or false"):
        Settings.from_env({"KAFKA_TASKS_APP_ID": "a", "KAFKA_TASKS_EXACTLY_ONCE": "maybe"})


def test_exactly_once_on_the_dev_broker_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="exactly_once needs Apache Kafka.*Leave it unset"):
        Settings(app_id="a", broker="tansu", exactly_once=True)


def test_the_worker_prefetch_multiplier_comes_from_the_environment_and_must_be_positive() -> None:
    assert Settings.from_env({}, app_id="a").worker_prefetch_multiplier == 4  # Celery's default
    assert Settings.from_env({"KAFKA_TASKS_WORKER_PREFETCH_MULTIPLIER": "1"}, app_id="a").worker_prefetch_multiplier == 1
    with pytest.raises(ValueError, match="worker_prefetch_multiplier must be at least 1"):
        Settings.from_env({"KAFKA_TASKS_WORKER_PREFETCH_MULTIPLIER": "0"}, app_id="a")


def test_producers_linger_on_tansu_only() -> None:
    # streams/admin.py: on Apache Kafka a linger only adds latency; on Tansu a request per record
    # cost the broker more CPU and a seventh of the throughput.
    kafka = producer_config(Settings(app_id="a", broker="kafka"))
    tansu = producer_config(Settings(app_id="a", broker="tansu"))
    assert kafka["linger.ms"] == 0
    assert tansu["linger.ms"] == TANSU_LINGER_MS > 0
    for config in (kafka, tansu):  # durable on both
        assert config["acks"] == "all" and config["enable.idempotence"] is True

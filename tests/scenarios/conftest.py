from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings
from tests.scenarios import shared
from tests.scenarios.drivers import InProcessDriver


@pytest.fixture(scope="session")
def kafka_driver(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Orchestrator and worker processes for the scenario catalogue, on the session's broker."""
    from tests.scenarios.kafka_driver import KafkaDriver

    workdir = tmp_path_factory.mktemp("kafka-scenarios")
    shared_dir = workdir / "shared"
    os.environ[shared.ENV] = str(shared_dir)  # the worker and this process count calls together
    settings = Settings(
        app_id="scenarios",
        bootstrap_servers=broker.bootstrap_servers,
        broker=getattr(broker, "kind", "kafka"),
        state_dir=Path(workdir / "state"),
    )
    driver = KafkaDriver(settings, workdir, dict(os.environ))
    try:
        from tests.scenarios.catalogue import add

        assert driver.run(add.send(1, 2)) == 3  # waits out the first group joins
        yield driver
    finally:
        driver.close()
        os.environ.pop(shared.ENV, None)


@pytest.fixture(params=["in-process", "in-process-avro", pytest.param("kafka", marks=pytest.mark.kafka)])
def driver(request: pytest.FixtureRequest) -> Any:
    if request.param == "kafka":
        return request.getfixturevalue("kafka_driver")
    return InProcessDriver(avro=request.param == "in-process-avro")


@pytest.fixture
def key() -> str:
    """A fresh key for the catalogue's call counters."""
    return uuid.uuid4().hex

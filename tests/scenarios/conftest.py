from __future__ import annotations

import uuid

import pytest

from tests.scenarios.drivers import InProcessDriver


@pytest.fixture(params=["in-process", "in-process-avro"])
def driver(request: pytest.FixtureRequest) -> InProcessDriver:
    return InProcessDriver(avro=request.param == "in-process-avro")


@pytest.fixture
def key() -> str:
    """A fresh key for the catalogue's call counters."""
    return uuid.uuid4().hex

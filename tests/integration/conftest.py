"""Integration tests: they start real brokers (Apache Kafka from Maven Central jars)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skip rather than fail on machines without a JDK: the rest of the suite still means something.
    # Only this directory's tests: elsewhere `kafka` tests may run against Tansu, which needs no JDK.
    from streams.brokers.kafka import default_cache_dir

    missing = [] if shutil.which("java") else ["java"]
    if not (default_cache_dir() / "complete.stamp").exists() and not shutil.which("mvn"):
        missing.append("mvn")
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"Apache Kafka tests need {' and '.join(missing)} on PATH")
    for item in items:
        if item.path.resolve().is_relative_to(HERE) and item.get_closest_marker("kafka"):
            item.add_marker(skip)

"""The orchestrator's fetch wait on Apache Kafka (streams/faust_app.py): short while some
partitions' records wait to be consumed, so that their next fetch is not held behind a fetch of
the other partitions; faust's long wait otherwise (a fetch ends when records arrive)."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from streams.admin import FETCH_WAIT_MS

pytestmark = pytest.mark.kafka


def test_a_fetch_that_leaves_out_unconsumed_partitions_waits_briefly(broker: Any) -> None:
    if broker.kind != "kafka":
        pytest.skip("the Tansu workarounds have their own fetch waits (test_tansu_fetch_wait.py)")
    topic = f"fetch-wait-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(30)
    completed = subprocess.run(
        [sys.executable, "-m", "tests.integration.fetch_wait_probe", broker.bootstrap_servers, topic],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    phases = json.loads(completed.stdout)
    partition_1_alone = [wait for wait, partitions in phases["unconsumed"] if partitions == [1]]
    assert partition_1_alone, phases  # aiokafka fetched partition 1 without the unconsumed partition 0
    assert set(partition_1_alone) == {FETCH_WAIT_MS}, phases
    both = [wait for wait, partitions in phases["consumed"] if partitions == [0, 1]]
    assert both and set(both) == {1500}, phases  # (faust's wait: records arriving end it)

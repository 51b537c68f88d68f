"""The Tansu workaround's fetch wait (streams/brokers/tansu_compat.py): short while fetches bring
little, long after one brings a batch's worth, short again when the records stop."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from streams.brokers import tansu_compat
from streams.brokers.tansu import TansuBroker

pytestmark = pytest.mark.kafka

IDLE, BUSY = tansu_compat.IDLE_FETCH_WAIT_MS, tansu_compat.BUSY_FETCH_WAIT_MS


def test_a_consumer_waits_long_only_after_a_fetch_that_brought_a_batch(tmp_path: Path) -> None:
    with TansuBroker(log_path=tmp_path / "broker.log") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        for future in admin.create_topics([NewTopic("probe", 1, 1)]).values():
            future.result(30)
        completed = subprocess.run(
            [sys.executable, "-m", "tests.integration.tansu_fetch_probe", broker.bootstrap_servers, "probe"],
            capture_output=True, text=True, timeout=120,
        )
    assert completed.returncode == 0, completed.stderr
    phases = json.loads(completed.stdout)
    assert phases["configured"] == [BUSY]  # the cap of faust's 1,500 ms
    assert set(phases["idle"][1:]) == {IDLE}, phases  # (the first may have been built before any came back)
    assert set(phases["after_one"]) == {IDLE}, phases  # a record of 100 bytes is not a batch
    after = phases["after_records"]
    assert BUSY in after, phases  # the fetch after the one that brought the 50 records (5,000 bytes)
    assert after[-1] == IDLE, phases  # and short again once fetches come back empty

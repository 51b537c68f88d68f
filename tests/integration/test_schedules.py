"""Schedules on Kafka with two orchestrator replicas (events/schedule.py): every slot runs
exactly once across the death and restart of a replica, and the CLI adds, lists and pauses them."""
from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from events.messages import PipelineFinished
from streams.replay import read_topic, wait_until_processed
from streams.settings import Settings
from streams.topics import Topics
from tests.integration.deployment import connection, spawn_replica

pytestmark = pytest.mark.kafka
NAME = "every-2s"  # declared in tests/integration/replica_app.py


def cli(broker: Any, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "streams.cli", "schedule", *args, *connection(broker)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def runs(settings: Settings) -> Counter[str]:
    """How many times each run of the schedule finished, by pipeline id."""
    from events.codec import Codec

    codec = Codec()
    finished = (codec.decode(r.value or b"") for r in read_topic(settings, Topics(settings.app_id).replies))
    return Counter(e.pipeline_id for e in finished if isinstance(e, PipelineFinished) and e.pipeline_id.startswith(f"{NAME}@"))


# A survivor restores the dead replica's partitions from the changelog first: on the suite's shared
# broker that changelog holds every earlier replica test's pipelines (CI once saw 90 s pass).
def wait_for_runs(settings: Settings, count: int, processes: Any, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while len(runs(settings)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(runs(settings))} of {count} runs finished:\n"
                                 + "\n".join(f"--- {n}:\n{processes.log(n)}" for n in processes.started))
        time.sleep(0.5)


def slot_of(pipeline_id: str) -> float:
    return datetime.fromisoformat(pipeline_id.split("@", 1)[1].replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("deployment", ["exactly once"], indirect=True)
def test_each_slot_runs_once_across_a_replica_killed_and_restarted(deployment: Any, broker: Any) -> None:
    settings, client, processes = deployment
    assert "added schedule every-2s" in cli(broker, "add", "-A", "tests.integration.replica_app")
    try:
        check_each_slot_runs_once(settings, client, processes, broker)
    finally:  # never leave it firing into the next tests on this broker
        subprocess.run([sys.executable, "-m", "streams.cli", "schedule", "pause", NAME, *connection(broker)],
                       capture_output=True, timeout=120)


def check_each_slot_runs_once(settings: Settings, client: Any, processes: Any, broker: Any) -> None:
    wait_for_runs(settings, 3, processes)
    for replica in ("replica-a", "replica-b"):  # whichever owned the schedule, it moved at least once
        processes.kill(replica)
        wait_for_runs(settings, len(runs(settings)) + 3, processes)
        spawn_replica(processes, broker, replica, "--exactly-once")
    wait_for_runs(settings, len(runs(settings)) + 2, processes)
    assert cli(broker, "pause", NAME).strip() == f"schedule {NAME}: paused"
    [schedule] = [s for s in client.list_schedules() if s.name == NAME]
    assert schedule.schedule_status == "PAUSED"
    wait_for_runs(settings, schedule.runs, processes)  # the last ones fired before the pause finish
    wait_until_processed(settings)
    finished = runs(settings)
    assert len(finished) == schedule.runs
    assert [run for run, times in finished.items() if times != 1] == []  # exactly one run per slot ...
    slots = sorted(slot_of(run) for run in finished)
    assert [b - a for a, b in zip(slots, slots[1:], strict=False)] == [2.0] * (len(slots) - 1)  # ... and none missed
    listed = cli(broker, "list")
    assert NAME in listed and "PAUSED" in listed and "* * * * * */2" in listed, listed
    print(f"\n{len(slots)} slots, each run once, across two replica kills and restarts")

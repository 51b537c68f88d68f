"""A small app for the replica tests (its own app id: its own topics and consumer groups; a test
that needs a fresh set runs its processes with another id in REPLICA_APP_ID)."""
from __future__ import annotations

import os
import time
from datetime import timedelta

from streams import KafkaTasks, RetryPolicy

tasks = KafkaTasks(app_id=os.environ.get("REPLICA_APP_ID", "replicas"))


@tasks.bind()
def step(x: int) -> int:
    time.sleep(0.02)  # long enough that pipelines are in flight when a replica dies
    return x + 1


_failed_once: set[int] = set()


@tasks.bind(retry_policy=RetryPolicy(delay=timedelta(seconds=3)))
def fails_once(x: int) -> int:
    """Fails on its first run for each `x` (one worker process remembers); its retry waits 3 s."""
    if x not in _failed_once:
        _failed_once.add(x)
        raise RuntimeError(f"first run for {x} fails")
    return x


@tasks.bind()
def slow(x: int) -> int:
    time.sleep(3)  # long enough to kill the worker mid-task
    return x


# Every 2 s, every missed slot caught up: across a replica's death every slot still runs, once.
tasks.schedule("every-2s", step.send(0), cron="* * * * * */2", catch_up=True)


@tasks.bind()
def total(values: list[int]) -> int:
    return sum(values)


@tasks.bind()
def nap(x: int, journal: str) -> int:
    """Sleeps 0.4 s and notes each run in `journal` (one line per run: a test counts them)."""
    time.sleep(0.4)
    with open(journal, "a") as notes:
        notes.write(f"{x}\n")
    return x

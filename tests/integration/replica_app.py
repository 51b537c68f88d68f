"""A small app for the replica tests (its own app id: its own topics and consumer groups)."""
from __future__ import annotations

import time

from streams import KafkaTasks

tasks = KafkaTasks(app_id="replicas")


@tasks.bind()
def step(x: int) -> int:
    time.sleep(0.02)  # long enough that pipelines are in flight when a replica dies
    return x + 1

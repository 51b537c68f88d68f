"""Tasks for the retention test (its own app id: its own topics and table)."""
from __future__ import annotations

import asyncio

from streams import KafkaTasks

tasks = KafkaTasks(app_id="retention")


@tasks.bind()
def echo(x: int) -> int:
    return x


@tasks.bind()
async def sleep_then_echo(seconds: float, x: int) -> int:
    await asyncio.sleep(seconds)
    return x

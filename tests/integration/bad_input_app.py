"""Tasks for the bad-input tests (their own app id: their own topics and dead letters)."""
from __future__ import annotations

from streams import KafkaTasks

tasks = KafkaTasks(app_id="bad-input")


@tasks.bind()
def echo(x: int) -> int:
    return x


@tasks.bind()
def unsendable() -> object:
    return object()  # Avro has no type for it


@tasks.bind()
def huge() -> str:
    return "x" * 1_100_000  # over the 1 MB a Kafka record may carry


@tasks.bind()
def text_of(size: int) -> str:
    return "t" * size


@tasks.bind()
def lengths(texts: list[str]) -> list[int]:
    return [len(t) for t in texts]


@tasks.bind()
async def sleep_then_echo(seconds: float, x: int) -> int:
    import asyncio

    await asyncio.sleep(seconds)
    return x

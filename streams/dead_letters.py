"""Dead letters: records Kafka Tasks could not process, kept with the reason, never dropped.

A record that is not an event, or that no one can act on, goes to `<app id>.dead-letters` with
its key and value unchanged (readable with any Kafka tool, and re-sendable to its source topic once
the cause is fixed). Headers say where it came from and what went wrong.
"""
from __future__ import annotations

FIRST_BYTES = 32  # of the value, in hex: enough to tell Avro framing from JSON or text at a glance
HEADER_PREFIX = "kafka-tasks."


def dead_letter_headers(
    source_topic: str, partition: int, offset: int, error: str, value: bytes | None
) -> list[tuple[str, str | bytes | None]]:
    fields = {
        "source-topic": source_topic,
        "source-partition": str(partition),
        "source-offset": str(offset),
        "error": error,
        "first-bytes": (value or b"")[:FIRST_BYTES].hex(),
    }
    return [(HEADER_PREFIX + name, text.encode()) for name, text in fields.items()]


def read_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """A dead letter's headers as text, without the prefix: for tools and tests."""
    return {
        name[len(HEADER_PREFIX):]: raw.decode()
        for name, raw in headers or []
        if name.startswith(HEADER_PREFIX)
    }

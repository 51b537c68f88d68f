"""Several events of one pipeline in one record: a worker's outcomes (`TaskOutcomes`), status
events (`StatusEvents`). Each record costs its producer, the broker and its readers
more than the events it carries; runs are cut to stay under Kafka's record size limit."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from events import messages as m

T = TypeVar("T")

# Room kept in a pack's size limit for what it adds around its events (the framing, the pipeline
# id, the array's block counts, a branch index per event).
PACK_OVERHEAD_BYTES = 64
# Fewer status events than this go as they are: encoding a pack of two cost more than the two
# records it saves (24 µs against 19, and no difference in a broker's or a reader's time measured).
MIN_PACK = 3


def runs_within(items: Sequence[T], size_of: Callable[[T], int], limit_bytes: int) -> list[list[T]]:
    """`items` in order, cut into runs whose sizes add up to at most `limit_bytes` (an item larger
    than that alone: the record's own limit check takes it from there)."""
    runs: list[list[T]] = []
    size = 0
    for item in items:
        length = size_of(item)
        if not runs or size + length > limit_bytes:
            runs.append([])
            size = 0
        runs[-1].append(item)
        size += length
    return runs


def pack_limit(pipeline_id: str, max_message_bytes: int) -> int:
    """What a pack's events may add up to, for a pipeline's records of at most `max_message_bytes`."""
    return max_message_bytes - len(pipeline_id.encode()) - PACK_OVERHEAD_BYTES


def status_events(pipeline_id: str, events: Sequence[Any], max_message_bytes: int) -> Iterator[Any]:
    """A pipeline's status events (`STATUS_TYPES`), in order, as StatusEvents records (fewer than
    MIN_PACK as they are)."""
    if len(events) < MIN_PACK:
        yield from events
        return
    for run in runs_within(events, _size_in_pack, pack_limit(pipeline_id, max_message_bytes)):
        yield run[0] if len(run) == 1 else m.StatusEvents(pipeline_id, tuple(run))


def _size_in_pack(event: Any) -> int:
    """At most what `event` adds to a StatusEvents: its union branch (a byte) and its body."""
    kind = type(event)
    if kind is m.TaskStatusChanged:  # (nearly all of them: sized exactly)
        return 1 + _status_size(event)
    if kind is m.PipelineStatusChanged:  # (one or two a step: its id, run, and two enum indexes)
        return 1 + _string_size(event.pipeline_id) + _int_size(event.run) + 2
    return 1 + sum(_size_at_most(getattr(event, f.name)) for f in dataclasses.fields(event))


def _size_at_most(value: Any) -> int:
    """An upper bound of a status event field's encoding (a long's varint takes at most 10 bytes)."""
    if isinstance(value, str):
        return len(value.encode()) + 10
    if isinstance(value, float):
        return 8
    if isinstance(value, tuple):
        return 10 + sum(_size_at_most(item) for item in value)
    return 10  # an int, an enum's index, a bool


def _status_size(change: m.TaskStatusChanged) -> int:
    """`change`'s Avro encoding's size, without encoding it: each string's bytes after its length,
    the ints (all zig-zag varints)."""
    return (_int_size(change.run) + _int_size(change.attempt) + _string_size(change.pipeline_id)
            + _string_size(change.uid) + _string_size(change.task_name) + _string_size(change.task_status)
            + _string_size(change.message))


def _string_size(text: str) -> int:
    length = len(text) if text.isascii() else len(text.encode())
    return length + (1 if length < 64 else _varint_size(length))


def _int_size(n: int) -> int:
    return 1 if -64 <= n < 64 else _varint_size(n)  # (a zig-zag varint's first byte holds -64 to 63)


def _varint_size(n: int) -> int:
    return max(1, (((n << 1) ^ (n >> 63)).bit_length() + 6) // 7)

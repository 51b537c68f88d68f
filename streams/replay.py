"""Replay: rebuild the orchestrator's pipeline table from the pipeline events topic alone.

The orchestrator's fold and decide are pure and take time from each event's log timestamp, so
folding the log again, in offset order, gives the very states the live orchestrator stored. The
decisions are thrown away: a replay never sends a task request. What it gives:

- the rebuilt states, in a fresh RocksDB directory (key: pipeline id, value: pickled state);
- `check`: the rebuilt states against the live ones (the table's changelog), with a checksum of
  each side, so a deployment can prove its log is enough to rebuild it;
- `republish`: the rebuilt states written to the changelog, each to its pipeline's partition,
  for when the changelog is lost or a bad deploy stored wrong states (see the README's runbook).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import pickle
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from events.codec import Codec
from events.errors import DecodeError
from events.messages import PipelineFinished, unbatched
from streams.admin import consumer_config, producer_config
from streams.intake import STATE_CODEC, Intake, LogRecord, Undecodable
from streams.settings import Settings
from streams.topics import Topics


@dataclasses.dataclass
class Rebuilt:
    states: dict[str, Any]  # pipeline id -> PipelineState
    partitions: dict[str, int]  # pipeline id -> its partition (of the events topic and changelog)
    events: int = 0
    skipped: int = 0  # records that are not events (the live orchestrator dead-lettered them)


def rebuild(records: Iterable[LogRecord], settings: Settings, now: float | None = None) -> Rebuilt:
    """Fold the records, in the order given (offset order within each partition), taking the
    orchestrator's own step (streams.intake), verdicts on bad records included. With `now`,
    pipelines finished more than `finished_retention_s` before it are left out, as the
    orchestrator removes them."""
    intake = Intake(Topics(settings.app_id).dead_letters, settings.max_state_bytes)
    rebuilt = Rebuilt({}, {})
    last_seen: dict[str, float] = {}
    for record in records:
        event = intake.decode(record)
        if isinstance(event, Undecodable):
            rebuilt.skipped += 1
            if event.verdict is None:
                continue
            event = event.verdict
        else:
            rebuilt.events += 1
        at = record.timestamp_ms / 1000.0  # the log's time, as the live orchestrator's
        for each in unbatched(event):
            pipeline_id = each.pipeline_id
            state, _decisions = intake.step(rebuilt.states.get(pipeline_id), each, at)
            if state is not None:
                rebuilt.states[pipeline_id] = state
                rebuilt.partitions[pipeline_id] = record.partition
                last_seen[pipeline_id] = at
    for pipeline_id, state in rebuilt.states.items():  # stored once, at the end (streams/intake.py)
        rebuilt.states[pipeline_id] = intake.seal(state, last_seen[pipeline_id]).state
    if now is not None:
        cutoff = now - settings.finished_retention_s
        for pipeline_id in [k for k, s in rebuilt.states.items() if s.finished_at is not None and s.finished_at <= cutoff]:
            del rebuilt.states[pipeline_id]
            del rebuilt.partitions[pipeline_id]
    return rebuilt


def read_topic(
    settings: Settings,
    topic: str,
    from_time_ms: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[LogRecord]:
    """Every record of `topic` up to its end as of now (from `from_time_ms` when given)."""
    # End of partition events: a partition may end in transaction markers (exactly-once), offsets
    # that are never delivered, so "the record before the end offset" may never come.
    consumer = Consumer(consumer_config(settings, f"{settings.app_id}-replay-{uuid.uuid4()}", **{"enable.partition.eof": True}))
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        start: dict[int, int] = {}
        end: dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            start[p], end[p] = low, high
        if from_time_ms is not None:
            found = consumer.offsets_for_times([TopicPartition(topic, p, from_time_ms) for p in partitions], timeout=30)
            start.update({tp.partition: (tp.offset if tp.offset >= 0 else end[tp.partition]) for tp in found})
        pending = {p for p in partitions if start[p] < end[p]}
        total = sum(end[p] - start[p] for p in pending)
        consumer.assign([TopicPartition(topic, p, start[p] if start[p] > 0 else OFFSET_BEGINNING) for p in pending])
        done = 0
        while pending:
            message = consumer.poll(1.0)
            if message is None or message.partition() not in pending:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:  # read up to at least `end`
                    pending.discard(int(message.partition() or 0))
                continue
            partition, offset = int(message.partition() or 0), int(message.offset() or 0)
            done += 1
            if progress is not None:
                progress(done, total)
            yield LogRecord(topic, partition, offset, message.timestamp()[1], message.key(), message.value())
            if offset + 1 >= end[partition]:
                pending.discard(partition)
    finally:
        consumer.close()


def finished_per_pipeline(settings: Settings, topic: str) -> collections.Counter[str]:
    """How many PipelineFinished replies each pipeline got on a replies topic: more than one
    means a client was told twice (clients keep the first)."""
    codec, counts = Codec(), collections.Counter[str]()
    for record in read_topic(settings, topic):
        try:
            event = codec.decode(record.value or b"")
        except DecodeError:
            continue
        if isinstance(event, PipelineFinished):
            counts[event.pipeline_id] += 1
    return counts


def wait_until_processed(settings: Settings, timeout_s: float = 60.0) -> None:
    """Wait until the orchestrators have committed every record now on the pipeline events topic
    (for counting replies: a replica that takes over folds records again, and may reply again)."""
    topics = Topics(settings.app_id)
    consumer = Consumer(consumer_config(settings, topics.orchestrator_group))  # never subscribes: reads its offsets
    try:
        partitions = [TopicPartition(topics.pipeline_events, p) for p in range(settings.partitions)]
        deadline = time.monotonic() + timeout_s
        while True:
            ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
            committed = [tp.offset for tp in consumer.committed(partitions, timeout=10)]
            if all(end == 0 or done >= end for done, end in zip(committed, ends, strict=True)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the orchestrators stopped at offsets {committed} of {ends}")
            time.sleep(0.2)
    finally:
        consumer.close()


def live_states(settings: Settings) -> dict[str, Any]:
    """The states the orchestrators stored: the latest value of each key of the changelog."""
    from faust.serializers import codecs

    states: dict[str, Any] = {}
    for record in read_topic(settings, Topics(settings.app_id).orchestrator_changelog):
        if record.key is None:
            continue
        if record.value is None:
            states.pop(record.key.decode(), None)
        else:
            states[record.key.decode()] = codecs.loads(STATE_CODEC, record.value)
    return states


def checksum(states: dict[str, Any]) -> str:
    """A digest of the states that does not depend on insertion orders (of pipelines, or of the
    maps inside a state): equal states, equal checksums."""
    digest = hashlib.sha256()
    for pipeline_id in sorted(states):
        digest.update(repr((pipeline_id, _canonical(states[pipeline_id]))).encode())
    return digest.hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple((f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if hasattr(value, "items"):  # dict, immutables.Map
        return tuple(sorted(((repr(k), _canonical(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


def differing(rebuilt: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Pipeline ids whose states differ (or exist on one side only)."""
    return sorted(
        k for k in rebuilt.keys() | live.keys() if repr(_canonical(rebuilt.get(k))) != repr(_canonical(live.get(k)))
    )


def difference(rebuilt: Any, live: Any) -> str:
    """Which fields of one pipeline's state differ, to start an investigation from."""
    if rebuilt is None or live is None:
        return "only in the " + ("live table" if rebuilt is None else "log")
    fields = [
        f"{f.name}: log {getattr(rebuilt, f.name)!r} / live {getattr(live, f.name)!r}"
        for f in dataclasses.fields(rebuilt)
        if repr(_canonical(getattr(rebuilt, f.name))) != repr(_canonical(getattr(live, f.name)))
    ]
    return "; ".join(fields)[:2000]


def write_state_dir(states: dict[str, Any], state_dir: Path) -> Path:
    from rocksdict import Rdict

    path = state_dir / "replayed-pipelines.db"
    if path.exists():
        raise FileExistsError(f"{path} exists: replay into a fresh state directory")
    state_dir.mkdir(parents=True, exist_ok=True)
    db = Rdict(str(path))
    try:
        for pipeline_id, state in states.items():
            db[pipeline_id.encode()] = pickle.dumps(state)
    finally:
        db.close()
    return path


def republish(settings: Settings, rebuilt: Rebuilt) -> int:
    """Write the rebuilt states to the changelog, each to its pipeline's partition."""
    from faust.serializers import codecs

    producer = Producer(producer_config(settings, **{"message.max.bytes": settings.max_record_bytes}))
    topic = Topics(settings.app_id).orchestrator_changelog
    for pipeline_id, state in rebuilt.states.items():
        producer.produce(topic, key=pipeline_id.encode(), value=codecs.dumps(STATE_CODEC, state),
                         partition=rebuilt.partitions[pipeline_id])
        producer.poll(0)
    undelivered = producer.flush(60)
    if undelivered:
        raise RuntimeError(f"{undelivered} states not acknowledged by the broker; run the replay again")
    return len(rebuilt.states)


def print_progress(done: int, total: int) -> None:
    if done == total or done % 1000 == 0:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done == total else ""
        print(f"\rreplaying [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events", end=end,
              file=sys.stderr, flush=True)

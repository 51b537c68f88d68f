"""Creating the app's topics (idempotent), with the configs the real broker honours."""
from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import Settings
from streams.topics import Topics


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.bootstrap_servers})


def ensure_topics(settings: Settings, names: list[str], config: dict[str, str] | None = None) -> None:
    """Create whichever of `names` do not exist yet; existing topics are left as they are."""
    admin = admin_client(settings)
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [n for n in names if n not in existing]
    if not missing:
        _wait_for_leaders(admin, names)  # another process may have created them a moment ago
        return
    futures = admin.create_topics(
        [
            NewTopic(n, num_partitions=settings.partitions, replication_factor=settings.replication_factor, config=config or {})
            for n in missing
        ],
        request_timeout=15,
    )
    for future in futures.values():
        try:
            future.result()
        except KafkaException as ex:
            if ex.args[0].name() != "TOPIC_ALREADY_EXISTS":  # another process won the race
                raise
    _wait_for_leaders(admin, names)


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """A new topic has no partition leaders for a moment; reading offsets then fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=10).topics
        if all(
            name in topics and topics[name].partitions and all(p.leader >= 0 for p in topics[name].partitions.values())
            for name in names
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {names} still have partitions without a leader after {timeout_s} s")
        time.sleep(0.1)


def ensure_app_topics(settings: Settings, worker_names: tuple[str | None, ...] = (None,)) -> Topics:
    topics = Topics(settings.app_id)
    ensure_topics(settings, [topics.pipeline_events, topics.dead_letters])
    retention = {} if settings.retention_ms is None else {"retention.ms": str(settings.retention_ms)}
    ensure_topics(
        settings, [topics.replies, topics.status, *(topics.requests(w) for w in worker_names)], retention
    )
    ensure_topics(settings, [topics.schedules], {"cleanup.policy": "compact"})
    return topics


def ensure_orchestrator_topics(settings: Settings) -> None:
    """The topics faust would create for the orchestrator, created first and with our configs:
    replicas starting together then cannot race each other to create them, and the table's
    changelog is compacted (the broker keeps the latest state of each pipeline, not every write)
    and takes states up to `max_state_bytes`, beyond the broker's default record limit."""
    topics = Topics(settings.app_id)
    ensure_topics(
        settings,
        [topics.orchestrator_changelog],
        {"cleanup.policy": "compact", "max.message.bytes": str(settings.max_record_bytes)},
    )
    ensure_topics(settings.with_(partitions=1), [topics.orchestrator_leader])


TANSU_LINGER_MS = 1


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka producer settings: durable (acks=all, idempotent) and low-latency (no linger on
    Apache Kafka; 1 ms on Tansu).

    On Apache Kafka a 1 ms linger cost more than 1 ms a hop: one record at a time, produce to poll,
    took 1.8-2.7 ms at 1 ms and 0.7-1.2 at 0 (p50 of 300), and a warm single-task round trip,
    two of whose four hops a librdkafka producer makes, p50 9.3-9.8 ms against 7.6-8.8.
    Throughput was the same (10,000 single-task pipelines, two runs each). On Tansu the round
    trip is the same either way (its fetch wait is what counts), but a request per record cost
    it more: over 10,000 single-task pipelines (four runs each, alternating) Tansu's CPU per
    pipeline was 0.26-0.49 ms at 0 against 0.15-0.23 at 1, and 1,204-1,505 pipelines ran a
    second against 1,427-1,694. A linger of 0.3 ms did as 1 ms did on both counts.

    The partitioner is the Java client's murmur2, which the orchestrator's producer (aiokafka) and
    producers in other languages use too. librdkafka's default (CRC32) would put a pipeline's
    events from clients and workers on another partition than the orchestrator's own (retry
    timers, child pipelines): out of order, and on another replica."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": TANSU_LINGER_MS if settings.is_tansu else 0,
        "partitioner": "murmur2_random",
        **extra,
    }


# How long a fetch may wait for records, unless `Settings.fetch_wait_ms` says otherwise: the
# librdkafka consumers' (clients, workers, replay) always, and the orchestrator's on Apache Kafka
# while some partitions' records are still being worked through (streams/faust_app.py). (Tansu's
# aiokafka waits are its workarounds': streams/brokers/tansu_compat.py.)
FETCH_WAIT_MS = 10


def fetch_wait_ms(settings: Settings) -> int:
    return FETCH_WAIT_MS if settings.fetch_wait_ms is None else settings.fetch_wait_ms


def consumer_config(settings: Settings, group_id: str, **extra: Any) -> dict[str, Any]:
    session_ms = int(settings.session_timeout_s * 1000)
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": max(session_ms, 6000),
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": fetch_wait_ms(settings),
        **extra,
    }

"""Wiring of the orchestrator's faust app: broker, RocksDB store, timeouts, broker workarounds."""
from __future__ import annotations

from typing import Any

import faust

from streams.brokers import tansu_compat
from streams.settings import Settings
from streams.topics import Topics

PRODUCER_BATCH_BYTES = 128 * 1024  # (the brokers' default limit per record batch: 1 MB)


def make_faust_app(settings: Settings) -> faust.App:
    _make_producers_idempotent()
    if not settings.is_tansu:
        _read_committed()
    if settings.is_tansu:
        tansu_compat.apply(settings.fetch_wait_ms)  # only for the dev broker; never against Apache Kafka
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        Topics(settings.app_id).orchestrator_group,
        broker=f"kafka://{settings.bootstrap_servers}",
        store="rocksdb://",
        datadir=str(settings.state_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        stream_recovery_delay=0.0,
        table_standby_replicas=0,
        producer_acks=-1,
        # A pipeline's state may be larger than an event (settings.max_state_bytes).
        producer_max_request_size=settings.max_record_bytes,
        # The orchestrator sends a batch's decisions as record batches per partition
        # (agents/output.py), and aiokafka waits for a partition's batch to be sent before it
        # takes the next: at 16 KB (the default) a 10,000-wide fan-out's 20,000 records waited
        # through 200 of those, 1.6 s. Larger ones, and each sent as soon as it fills, while the
        # next fills.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=settings.max_record_bytes,
        # The REST API, dashboard, metrics and probes (agents/web.py); faust forwards a request
        # for a pipeline to the replica that owns it, at that replica's canonical URL.
        web_enabled=settings.web_port != 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        canonical_url=settings.web_url,
        web_tables_enabled=False,  # faust's raw table pages would show pickled states
        web_router_enabled=False,
    )


def _make_producers_idempotent() -> None:
    """faust asks aiokafka for an idempotent producer only under exactly-once processing. The
    orchestrator wants it at least once too: a send retried across a partition leader change must
    not write a task request or a reply twice. faust has no setting for it, hence the override."""
    from faust.transport.drivers import aiokafka as driver

    driver.Producer._settings_extra = lambda self: {"acks": "all", "enable_idempotence": True}  # type: ignore[method-assign]


def _read_committed() -> None:
    """Under exactly-once the orchestrator writes its own changelog and input topic in
    transactions (agents/output.py): its consumer, which also restores the table, must skip
    aborted records, also after a deployment switches back to at least once (reading committed
    costs nothing where nobody writes transactions). faust reads committed only under its own
    exactly-once mode, which we do not use (its transactions follow the output record's
    partition, not the input's)."""
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "read_committed", False):
        return

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._isolation_level = "read_committed"  # read by AIOKafkaConsumer.start()
        return consumer

    _create_worker_consumer.read_committed = True  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]

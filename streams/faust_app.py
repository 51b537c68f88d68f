"""Wiring of the orchestrator's faust app: broker, RocksDB store, timeouts, broker workarounds."""
from __future__ import annotations

from typing import Any

import faust

from streams.admin import fetch_wait_ms
from streams.brokers import tansu_compat
from streams.settings import Settings
from streams.topics import Topics

PRODUCER_BATCH_BYTES = 128 * 1024  # (the brokers' default limit per record batch: 1 MB)


def make_faust_app(settings: Settings) -> faust.App:
    _make_producers_idempotent()
    if not settings.is_tansu:
        _read_committed()
        _refetch_worked_through_partitions_soon(fetch_wait_ms(settings))
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


def _refetch_worked_through_partitions_soon(busy_wait_ms: int) -> None:
    """Cap the fetch wait of the process's aiokafka consumers at `busy_wait_ms` while some
    partitions' fetched records are still being worked through (the Tansu workarounds have their
    own fetch waits).

    faust asks for a 1,500 ms wait. On Apache Kafka a fetch ends as soon as records arrive, so
    the wait only decides how often an idle consumer asks. But aiokafka keeps one fetch in flight
    per broker, and leaves out of it the partitions whose records are still being worked through
    (after 100 ms of that). A fetch for the others alone, where nothing arrives, held those
    partitions' next fetch for its whole wait: 1,000 single-task pipelines took about 2 s instead
    of 0.7 in 5 of 12 runs, the orchestrator fetching nothing for 1.3 s while the results waited
    on the broker (0 of 12 with this). With no partition left out, the wait stays faust's:
    whatever arrives ends it."""
    from aiokafka.consumer.fetcher import Fetcher

    plan = Fetcher._get_actions_per_node
    if getattr(plan, "busy_wait_ms", None) == busy_wait_ms:
        return

    def _get_actions_per_node(self: Any, assignment: Any) -> Any:
        configured = self.__dict__.setdefault("_configured_fetch_max_wait_ms", self._fetch_max_wait_ms)
        # (`_records`: the partitions fetched and not yet consumed, which this fetch leaves out)
        self._fetch_max_wait_ms = min(configured, busy_wait_ms) if self._records else configured
        return plan(self, assignment)

    _get_actions_per_node.busy_wait_ms = busy_wait_ms  # type: ignore[attr-defined]
    Fetcher._get_actions_per_node = _get_actions_per_node  # type: ignore[method-assign]

"""Settings: one frozen dataclass, built once at the entry point (CLI flags over environment).

Library code never reads os.environ; `Settings.from_env` is called by the CLI and the tests.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "KAFKA_TASKS_"


@dataclass(frozen=True)
class Settings:
    """How a process of this app reaches Kafka.

    Attributes:
        app_id: prefixes every topic and consumer group of the app.
        bootstrap_servers: Kafka brokers, `host:port[,host:port]`.
        broker: "kafka" (Apache Kafka or compatible) or "tansu" (the local dev broker, which needs
            client workarounds and shorter group timeouts).
        state_dir: where the orchestrator keeps its RocksDB table.
        partitions: partitions of the topics the app creates.
        replication_factor: replication of the topics the app creates.
        worker_concurrency: tasks a worker runs at once.
        worker_prefetch_multiplier: a worker holds up to this many times `worker_concurrency`
            requests, running and fetched (Celery's setting of the same name and default): quick
            tasks find the next request waiting instead of a fetch from the broker. 1: it fetches
            only as many as it has free slots (for long tasks that other workers should take).
        retention_ms: retention of the request, reply and status topics the app creates (None:
            the broker's default). The pipeline events topic keeps the broker default: it is
            the log that replay rebuilds state from.
        max_message_bytes: the largest encoded event sent to Kafka (the brokers' default limit
            is about 1 MB). A larger task result or request fails its pipeline with an error
            that says so, instead of failing the send.
        max_state_bytes: the largest state the orchestrator stores per pipeline (pickled, as its
            table's changelog record). The changelog topic is created to take records this
            large; a pipeline whose state outgrows it fails with an error that says so.
        finished_retention_s: how long a finished pipeline stays in the orchestrator's table
            (status and result queries answer from it, a re-submission re-runs it); then it is
            removed, so the table does not grow forever. Its reply and status events stay on
            their topics.
        exactly_once: the orchestrator writes each batch's decisions and new states in Kafka
            transactions (agents/output.py), so a replica killed mid-batch repeats no reply or
            task request. Apache Kafka only (Tansu does not hide aborted records from readers).
            Off (the default, like Kafka Streams' at_least_once): nothing is lost either, and
            clients keep one reply per pipeline, but after a kill the replies topic may hold a
            second reply and a worker may run a task twice. On costs latency: each hop through
            the orchestrator waits for a transaction commit (tens of ms).
        web_port: the HTTP port of an orchestrator replica (REST API, dashboard, /metrics,
            /health, /ready); 0: none. Each replica on one machine needs its own.
        worker_web_port: a worker's HTTP port (/metrics, /health, /ready); 0: none.
        web_host: the address other replicas and clients reach this process at: requests for a
            pipeline are forwarded to the replica that owns it, at its advertised address.
        web_bind: the interface to listen on (0.0.0.0 in containers). The API is not
            authenticated: keep it on a private network.
    """

    app_id: str
    bootstrap_servers: str = "127.0.0.1:9092"
    broker: str = "kafka"
    state_dir: Path = field(default_factory=lambda: Path(".kafka-tasks-state"))
    partitions: int = 4
    replication_factor: int = 1
    worker_concurrency: int = 8
    worker_prefetch_multiplier: int = 4
    retention_ms: int | None = None
    max_message_bytes: int = 1_000_000
    max_state_bytes: int = 8_000_000
    finished_retention_s: float = 24 * 3600.0
    fetch_wait_ms: int | None = None
    exactly_once: bool = False
    web_port: int = 6066
    worker_web_port: int = 6067
    web_host: str = "127.0.0.1"
    web_bind: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if self.exactly_once and self.is_tansu:
            raise ValueError(
                "exactly_once needs Apache Kafka: Tansu shows aborted transactions to readers. "
                "Leave it unset (at least once on Tansu) or run against Kafka."
            )

    @property
    def max_record_bytes(self) -> int:
        """What the orchestrator's producer and the changelog topic must take: the largest state
        plus room for the record's key and batch framing."""
        return max(self.max_state_bytes, self.max_message_bytes) + 64 * 1024

    @property
    def web_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def is_tansu(self) -> bool:
        return self.broker == "tansu"

    @property
    def session_timeout_s(self) -> float:
        # Tansu holds a group join for half the session timeout: keep it short there.
        return 4.0 if self.is_tansu else 10.0

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from KAFKA_TASKS_* variables, then `overrides` (CLI flags) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, convert in (
            ("app_id", str),
            ("bootstrap_servers", str),
            ("broker", str),
            ("state_dir", Path),
            ("partitions", int),
            ("replication_factor", int),
            ("worker_concurrency", int),
            ("worker_prefetch_multiplier", int),
            ("retention_ms", int),
            ("max_message_bytes", int),
            ("max_state_bytes", int),
            ("finished_retention_s", float),
            ("fetch_wait_ms", int),
            ("exactly_once", _boolean),
            ("web_port", int),
            ("worker_web_port", int),
            ("web_host", str),
            ("web_bind", str),
        ):
            raw = env.get(ENV_PREFIX + name.upper())
            if raw:
                values[name] = convert(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "app_id" not in values:
            raise ValueError("set the app id: --app-id or KAFKA_TASKS_APP_ID")
        if values.get("broker", "kafka") not in ("kafka", "tansu"):
            raise ValueError("broker must be 'kafka' or 'tansu'")
        settings = Settings(**values)
        if settings.max_state_bytes < settings.max_message_bytes:
            raise ValueError("max_state_bytes must be at least max_message_bytes: a state holds its submission")
        if settings.worker_concurrency < 1 or settings.worker_prefetch_multiplier < 1:
            raise ValueError("worker_concurrency and worker_prefetch_multiplier must be at least 1")
        return settings


def _boolean(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")

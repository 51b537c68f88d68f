"""The Apache Kafka launcher against the clients the project uses: confluent-kafka and aiokafka.

Every wait polls against a deadline; nothing sleeps a fixed time hoping the broker caught up.
"""
from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
pytest.importorskip("aiokafka")

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic  # noqa: E402

from streams.brokers.kafka import KafkaCluster, group_running, start_kafka  # noqa: E402

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]


def topic_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie nobody reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def produce(bootstrap: str, topic: str, values: list[str], timeout_s: float = 30.0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "message.timeout.ms": int(timeout_s * 1000)})
    errors: list[object] = []
    for value in values:
        producer.produce(topic, key=value.encode(), value=value.encode(),
                         on_delivery=lambda err, _msg: errors.append(err) if err else None)
    assert producer.flush(timeout_s + 5) == 0, "records still unacknowledged"
    assert not errors, errors


def consume(bootstrap: str, topic: str, count: int, timeout_s: float = 30.0) -> list[str]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic_name("group"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            seen.append(msg.value().decode())
        consumer.commit(asynchronous=False)  # the group coordinator works too
    finally:
        consumer.close()
    assert len(seen) >= count, f"consumed {len(seen)} of {count} within {timeout_s} s"
    return seen


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaCluster]:
    with start_kafka(nodes=1) as cluster:
        yield cluster


def test_topic_configs_and_partitions(kafka: KafkaCluster) -> None:
    admin = kafka.admin()
    topic = topic_name("compacted")
    configs = {"cleanup.policy": "compact", "retention.ms": "3600000"}
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1, config=configs)])[topic].result(30)

    described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    found = next(iter(described.values())).result(30)
    assert found["cleanup.policy"].value == "compact"
    assert found["retention.ms"].value == "3600000"

    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(30)
    wait_until(lambda: len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5,
               30, "5 partitions in the metadata")


def test_confluent_idempotent_produce_and_group_consume(kafka: KafkaCluster) -> None:
    topic = topic_name("confluent")
    kafka.admin().create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    values = [f"v{i}" for i in range(20)]
    produce(kafka.bootstrap_servers, topic, values)
    assert sorted(consume(kafka.bootstrap_servers, topic, len(values))) == sorted(values)


def test_aiokafka_admin_produce_and_group_consume(kafka: KafkaCluster) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin import NewTopic as AioNewTopic

    topic = topic_name("aiokafka")

    async def scenario() -> list[bytes]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([AioNewTopic(topic, num_partitions=2, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                    enable_idempotence=True)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, f"a{i}".encode(), key=str(i).encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka.bootstrap_servers, group_id=topic_name("aio"),
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        seen: list[bytes] = []
        try:
            deadline = time.monotonic() + 30
            while len(seen) < 10 and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(r.value for r in records)
            await consumer.commit()
        finally:
            await consumer.stop()
        return seen

    seen = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert sorted(seen) == sorted(f"a{i}".encode() for i in range(10))


def test_three_nodes_survive_a_killed_leader() -> None:
    cluster = start_kafka(nodes=3)
    pids = [n.pid for n in cluster.nodes]
    try:
        assert len(cluster.bootstrap_servers.split(",")) == 3
        topic = topic_name("replicated")
        cluster.admin().create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)])[topic].result(30)
        wait_until(lambda: cluster.leader_of(topic, 0) is not None, 30, "a first leader")
        produce(cluster.bootstrap_servers, topic, ["before-0", "before-1"])

        old = cluster.leader_of(topic, 0)
        assert old is not None
        cluster.node(old).kill()
        killed_at = time.monotonic()
        # The controller fences the dead broker after broker.session.timeout.ms (9 s by default).
        wait_until(lambda: cluster.leader_of(topic, 0) not in (None, old), 60, "a new leader")
        failover_s = time.monotonic() - killed_at
        new = cluster.leader_of(topic, 0)
        print(f"\nleader {old} SIGKILLed; node {new} leads after {failover_s:.1f} s")

        produce(cluster.bootstrap_servers, topic, ["after-0", "after-1"], timeout_s=60)
        seen = consume(cluster.bootstrap_servers, topic, 4, timeout_s=60)
        assert sorted(seen) == ["after-0", "after-1", "before-0", "before-1"]

        cluster.node(old).restart()  # same ports and data: it rejoins as a follower
        wait_until(lambda: cluster.brokers() == {0, 1, 2}, 60, "the restarted broker back in the metadata")
        pids.append(cluster.node(old).pid)
    finally:
        cluster.stop()
    cluster.stop()  # idempotent
    for pid in pids:
        assert pid is not None and gone(pid), pid
        assert group_running(pid) == [], "its process group (the JVM's watchdog) still runs"


def test_jvm_dies_with_a_sigkilled_launcher(tmp_path: Path) -> None:
    script = ("import time; from streams.brokers.kafka import start_kafka; "
              f"c = start_kafka(1, data_dir={str(tmp_path)!r}, log=lambda s: None); "
              "print(c.nodes[0].pid, flush=True); time.sleep(600)")
    launcher = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert launcher.stdout is not None
        ready = select.select([launcher.stdout], [], [], 120)[0]
        assert ready, "the launcher did not start a broker within 120 s"
        pid = int(launcher.stdout.readline())
        assert not gone(pid)
    finally:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
    wait_until(lambda: gone(pid), 15, f"JVM {pid} ending after its launcher was SIGKILLed")


@pytest.mark.kafka
def test_a_cluster_id_starting_with_a_dash_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: a random base64url cluster id can start with "-"; passed as "-t ID" the
    # storage tool read it as an option and formatting failed (about 1 start in 64).
    import streams.brokers.kafka as launcher

    class DashFirst:
        bytes = b"\xf8" + bytes(15)  # base64url of 0xf8... starts with "-"

    monkeypatch.setattr(launcher.uuid, "uuid4", lambda: DashFirst())
    cluster = launcher.start_kafka(nodes=1, log=lambda message: None)
    try:
        assert cluster.cluster_id.startswith("-")
        assert cluster.brokers()
    finally:
        cluster.stop()

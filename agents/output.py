"""Where the orchestrator's writes go: straight out (at least once) or in Kafka transactions.

Everything the orchestrator writes on behalf of the events of input partition P (decisions,
dead letters, the changelog records of P's pipelines) is sent through `send(P, ...)`, and
`commit()` is called once those pipelines' new states are among the sent records.

- `DirectOutput` (at least once; the Tansu dev broker, which shows aborted records to every
  reader): faust's idempotent producer; `commit` has nothing to do. A replica killed after
  sending a batch's decisions but before storing its states makes the next owner send them
  again: a client sees a reply once (it keeps the first per pipeline), the replies topic twice.
- `TransactionalOutput` (exactly once, Apache Kafka): one transactional producer per input
  partition, its transactional id naming the partition. Decisions and states become visible to
  readers (read_committed: our workers, clients, replay and table recovery) together, when
  committed. A replica killed in between leaves an open transaction, which the partition's next
  owner aborts by starting its producer under the same id (that also fences the dead replica's
  producer, should it only have been paused): what it sent never counts, and the next owner,
  which folds those events again, sends it once.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.settings import Settings
from streams.topics import partition_of

log = logging.getLogger("kafka_tasks.orchestrator")

Headers = list[tuple[str, bytes]] | None


class DirectOutput:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def send_many(self, records: Iterable[tuple[int, str, bytes, bytes]]) -> list[Any]:
        """Send (input partition, topic, key, value) records, each partitioned by its key as any
        producer would (murmur2), in batches per topic partition: aiokafka's per-record `send`
        costs ~28 µs a record, a batch ~3 (a wide fan-out sends three records per task). Futures
        resolve when the broker has each batch. Order within a topic partition is kept.
        `records` may be a generator: a batch that fills is sent while the rest are made (a
        10,000-wide fan-out's first requests reach the workers before its last are encoded)."""
        producer = self.app.producer._ensure_producer()
        batches = _Batches(producer)
        futures = []
        for _, topic, key, value in records:
            partition = self._partition_of(producer, topic, key)
            if partition is None:  # no metadata for the topic yet: the plain path waits for it
                futures.append(await self.send(0, topic, key, value))
                continue
            await batches.add(topic, partition, key, value)
        return futures + [future for _, _, future, _ in await batches.close()]

    async def send_changelog(self, topic: str, states: list[tuple[int, bytes, bytes]]) -> dict[int, int]:
        """Send (partition, key, value) records to those partitions of `topic`, in batches per
        partition (a store of many small pipelines sent each alone, ~28 µs a record); once the
        broker has them all, the last offset written to each partition."""
        batches = _Batches(self.app.producer._ensure_producer())
        for partition, key, value in states:
            await batches.add(topic, partition, key, value)
        sent = await batches.close()
        last: dict[int, int] = {}
        for (_, partition, _, count), metadata in zip(sent, await asyncio.gather(*[f for _, _, f, _ in sent]), strict=True):
            # (a batch's future has its first record's offset; the others follow it)
            last[partition] = max(last.get(partition, -1), metadata.offset + count - 1)
        return last

    def _partition_of(self, producer: Any, topic: str, key: bytes) -> int | None:
        partitions = producer.client.cluster.partitions_for_topic(topic)
        if not partitions:
            return None
        # As aiokafka's (and the Java client's) default partitioner.
        return sorted(partitions)[_partition_of_key(key, len(partitions))]

    async def send(self, partition: int, topic: str, key: bytes | None, value: bytes | None,
                   headers: Headers = None, to_partition: int | None = None) -> Any:
        """Send a record for the events of input `partition`; returns a future that resolves when
        the broker has it."""
        return await self.app.producer.send(topic, key, value, to_partition, None, headers)

    def pending(self) -> bool:
        """Whether records were sent that readers do not see yet."""
        return False

    async def commit(self) -> None:
        pass

    async def assign(self, partitions: Iterable[int]) -> None:
        pass

    async def close(self) -> None:
        pass


class _Batches:
    """Records gathered into one aiokafka record batch per topic partition; a batch that fills
    goes to aiokafka's sender at once (its next is filled meanwhile), the rest on `close()`."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self._open: dict[tuple[str, int], list[Any]] = {}  # (topic, partition) -> [builder, records in it]
        self._sent: list[tuple[str, int, Any, int]] = []  # (topic, partition, its future, records in it)

    async def add(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        batch = self._open.get((topic, partition))
        if batch is not None and batch[0].append(key=key, value=value, timestamp=None) is not None:
            batch[1] += 1
            return
        if batch is not None:  # full
            await self._send(topic, partition)
            await asyncio.sleep(0)  # aiokafka's sender takes it now
        builder = self.producer.create_batch()
        builder.append(key=key, value=value, timestamp=None)  # (an empty batch takes any record: checked)
        self._open[(topic, partition)] = [builder, 1]

    async def close(self) -> list[tuple[str, int, Any, int]]:
        """Send what is open; every batch sent: (topic, partition, its future, records in it)."""
        for topic, partition in list(self._open):
            await self._send(topic, partition)
        return self._sent

    async def _send(self, topic: str, partition: int) -> None:
        builder, count = self._open.pop((topic, partition))
        self._sent.append((topic, partition, await self.producer.send_batch(builder, topic, partition=partition), count))


class TransactionalOutput:
    def __init__(self, settings: Settings, transactional_prefix: str) -> None:
        self.settings = settings
        self.prefix = transactional_prefix
        # partition -> its producer, started (or starting: two producers under one id would fence
        # each other, so a send waits for the start in progress instead of starting another)
        self._producers: dict[int, asyncio.Task[AIOKafkaProducer]] = {}
        self._open: set[int] = set()  # partitions whose transaction holds uncommitted records

    async def assign(self, partitions: Iterable[int]) -> None:
        """Start the producers of newly owned partitions now, not at their first send: starting
        aborts a dead owner's open transaction, which until then hides the rest of the changelog
        from the table recovery that precedes any send."""
        for partition in partitions:
            self._starting(partition)

    async def send_many(self, records: Iterable[tuple[int, str, bytes, bytes]]) -> list[Any]:
        # One by one: aiokafka's send_batch does not add its partition to the transaction.
        return [await self.send(partition, topic, key, value) for partition, topic, key, value in records]

    async def send(self, partition: int, topic: str, key: bytes | None, value: bytes | None,
                   headers: Headers = None, to_partition: int | None = None) -> Any:
        producer = await self._starting(partition)
        if partition not in self._open:
            await producer.begin_transaction()
            self._open.add(partition)
        return await producer.send(topic, value, key=key, partition=to_partition, headers=headers)

    async def send_changelog(self, topic: str, states: list[tuple[int, bytes, bytes]]) -> dict[int, int]:
        """As DirectOutput's, one by one, each in its partition's transaction."""
        sent = [await self.send(partition, topic, key, value, to_partition=partition) for partition, key, value in states]
        last: dict[int, int] = {}
        for (partition, _, _), metadata in zip(states, await asyncio.gather(*sent), strict=True):
            last[partition] = max(last.get(partition, -1), metadata.offset)
        return last

    def pending(self) -> bool:
        return bool(self._open)

    async def commit(self) -> None:
        """Commit every open transaction; on failure (fenced: the partition has a new owner, or the
        broker gave up on it) the producers are dropped and the error raised: the caller forgets
        its unstored states, and whoever owns the partitions now folds those events again."""
        opened, self._open = self._open, set()
        try:
            await asyncio.gather(*[(await self._starting(p)).commit_transaction() for p in opened])
        except Exception:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop every producer (partitions move, or a commit failed); an open transaction is
        aborted by the broker or by the partition's next owner."""
        starting, self._producers, self._open = self._producers, {}, set()
        for task in starting.values():
            try:
                await (await task).stop()
            except Exception as error:  # fenced or never started: nothing of ours left to stop
                log.debug("stopping a transactional producer: %r", error)

    def _starting(self, partition: int) -> asyncio.Task[AIOKafkaProducer]:
        task = self._producers.get(partition)
        if task is None or (task.done() and task.exception() is not None):
            task = self._producers[partition] = asyncio.ensure_future(self._start(partition))
        return task

    async def _start(self, partition: int) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            client_id=f"{self.prefix}-{partition}",
            transactional_id=f"{self.prefix}-{partition}",
            enable_idempotence=True,
            acks="all",
            max_request_size=self.settings.max_record_bytes,
            # A dead replica's transaction blocks readers of its partitions until the next owner
            # aborts it, or until this timeout if no replica takes them.
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        )
        await producer.start()  # InitProducerId: aborts and fences the previous owner's transaction
        return producer


TRANSACTION_TIMEOUT_MS = 30_000


def make_output(app: Any, settings: Settings, transactional_prefix: str) -> DirectOutput | TransactionalOutput:
    return TransactionalOutput(settings, transactional_prefix) if settings.exactly_once else DirectOutput(app)


@functools.lru_cache(maxsize=8192)
def _partition_of_key(key: bytes, count: int) -> int:
    """murmur2 in Python costs 8 µs a key: the recent ones are kept (a pipeline's id comes back
    with each of its steps; a task's uid, once, so a bounded cache: a dict of every key seen held
    100,000 of them, about 19 MB with their keys, before it was cleared)."""
    return partition_of(key, count)

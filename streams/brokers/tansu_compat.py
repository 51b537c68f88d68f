"""Client workarounds for the Tansu dev broker, applied only when the broker is Tansu.

Three aiokafka (0.14.0) patches, each measured against Tansu 0.6.0 (see the findings note):

1. High watermark: Tansu answers ListOffsets(LATEST) with the last stored batch's first offset + 1,
   N-1 too low when that batch held N records. faust then fails table recovery with
   ConsistencyError, or silently under-recovers. Fetch responses carry the right high watermark,
   so after each LATEST lookup we send a tiny Fetch and keep the larger value.
2. InitProducerId: aiokafka only sends v0, which Tansu rejects (it needs producer_id=-1, present
   from v3), breaking idempotent and transactional producers. We add a v3 request.
3. Fetch wait: Tansu holds a Fetch for its whole max wait unless records are there when it comes
   (records arriving meanwhile do not end it), and faust hard-codes fetch_max_wait_ms=1500:
   every hop through the orchestrator took about 1.5 s
   (measured: single-task pipeline p50 1,508 ms). aiokafka consumers ask for 10 ms while their
   fetches bring little and 20 ms after one brought a batch's worth (below), or for
   `Settings.fetch_wait_ms` when set (a durable Tansu needs ~200 ms: shorter fetches of its S3
   storage come back empty, measured: nothing delivered in 5 s at 20 ms, ~50 ms latency at 200).

Never apply these against Apache Kafka: `apply()` is called by the app wiring only when
`Settings.broker == "tansu"`.
"""
from __future__ import annotations

import collections
import contextvars
from typing import Any

_applied = False


def apply(fetch_wait_ms: int | None = None) -> None:
    """Patch aiokafka once, before any consumer or producer starts. Idempotent."""
    global _applied
    if _applied:
        return
    _patch_high_watermark()
    _patch_init_producer_id()
    _patch_fetch_wait(fetch_wait_ms)
    _applied = True


def is_applied() -> bool:
    return _applied


def _patch_high_watermark() -> None:
    from aiokafka.consumer.fetcher import Fetcher, OffsetResetStrategy
    from aiokafka.protocol.fetch import FetchRequest
    from aiokafka.structs import TopicPartition

    original = Fetcher._proc_offset_request

    async def _proc_offset_request(self: Any, node_id: int, topic_data: dict[str, Any]) -> Any:
        offsets = await original(self, node_id, topic_data)
        latest: dict[str, list[tuple[int, int, int]]] = collections.defaultdict(list)
        for topic, parts in topic_data.items():
            for partition, ts in parts:
                tp = TopicPartition(topic, partition)
                if ts == OffsetResetStrategy.LATEST and tp in offsets and offsets[tp][0] is not None:
                    latest[topic].append((partition, max(offsets[tp][0] - 1, 0), 1))
        if latest:
            try:
                # Tansu returns no topics for max_wait_time=0, hence 100 ms.
                request = FetchRequest(100, 0, 1, self._isolation_level, list(latest.items()))
                response = await self._client.send(node_id, request)
                for topic, parts in response.topics:
                    for partition, error_code, highwater, *_ in parts:
                        tp = TopicPartition(topic, partition)
                        if error_code == 0 and tp in offsets and highwater > offsets[tp][0]:
                            offsets[tp] = (highwater, offsets[tp][1])
            except Exception:  # never worse than the broker's own answer
                pass
        return offsets

    Fetcher._proc_offset_request = _proc_offset_request


# A fetch that finds no records ends when its wait is over, so the wait is both a hop's latency
# and, under load, how much a fetch brings back: a consumer asks for IDLE_FETCH_WAIT_MS while its
# fetches bring little, BUSY_FETCH_WAIT_MS once one brought BUSY_FETCH_BYTES or more. Single-task
# round trips, p50 (bench/hops.py): 28.6 ms at 20 ms, 20.5 at 10. 1,000 single-task pipelines:
# about 8% fewer per second at a fixed 10 ms than at 20 (interleaved runs). An idle deployment
# polls twice as often: the orchestrator's CPU 5.5% -> 9-10%, the broker's 16% -> 20-22%.
IDLE_FETCH_WAIT_MS = 10
BUSY_FETCH_WAIT_MS = 20
BUSY_FETCH_BYTES = 1024  # five or so small records (a single-task submission is 133 bytes)

# The records of the fetch in flight, by size: aiokafka sends each fetch in a task of its own,
# which has its own copy of this.
_fetched_bytes: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("tansu_fetched_bytes", default=None)


def _patch_fetch_wait(fixed_ms: int | None) -> None:
    """Cap aiokafka consumers' fetch wait (faust asks for 1,500 ms) at `fixed_ms`, or adapt it."""
    import aiokafka
    from aiokafka.consumer.fetcher import Fetcher, PartitionRecords

    cap_ms = BUSY_FETCH_WAIT_MS if fixed_ms is None else fixed_ms
    original_init = aiokafka.AIOKafkaConsumer.__init__

    def __init__(self: Any, *topics: Any, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = min(kwargs.get("fetch_max_wait_ms", 500), cap_ms)
        original_init(self, *topics, **kwargs)

    aiokafka.AIOKafkaConsumer.__init__ = __init__
    if fixed_ms is not None:
        return
    original_records = PartitionRecords.__init__
    original_fetch = Fetcher._proc_fetch_request

    def records_init(self: Any, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:
        sizes = _fetched_bytes.get()
        if sizes is not None:
            sizes.append(records.size_in_bytes())
        original_records(self, tp, records, *args, **kwargs)

    async def _proc_fetch_request(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
        sizes: list[int] = []
        _fetched_bytes.set(sizes)
        try:
            return await original_fetch(self, assignment, node_id, request)
        finally:
            # The next fetch's wait; a request already built keeps its own.
            self._fetch_max_wait_ms = BUSY_FETCH_WAIT_MS if sum(sizes) >= BUSY_FETCH_BYTES else IDLE_FETCH_WAIT_MS

    PartitionRecords.__init__ = records_init
    Fetcher._proc_fetch_request = _proc_fetch_request


def _patch_init_producer_id() -> None:
    from aiokafka.protocol import transaction as t
    from aiokafka.protocol.api import RequestStruct, Response
    from aiokafka.protocol.types import CompactString, Int16, Int32, Int64, Schema, TaggedFields

    class InitProducerIdResponse_v3(Response):  # noqa: N801 (aiokafka's naming)
        API_KEY = 22
        API_VERSION = 3
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            ("error_code", Int16),
            ("producer_id", Int64),
            ("producer_epoch", Int16),
            ("tags", TaggedFields),
        )

    class InitProducerIdRequest_v3(RequestStruct):  # noqa: N801
        FLEXIBLE_VERSION = True
        API_KEY = 22
        API_VERSION = 3
        RESPONSE_TYPE = InitProducerIdResponse_v3
        SCHEMA = Schema(
            ("transactional_id", CompactString("utf-8")),
            ("transaction_timeout_ms", Int32),
            ("producer_id", Int64),
            ("producer_epoch", Int16),
            ("tags", TaggedFields),
        )

    original_build = t.InitProducerIdRequest.build

    def build(self: Any, request_struct_class: Any) -> Any:
        if request_struct_class is InitProducerIdRequest_v3:
            return InitProducerIdRequest_v3(self._transactional_id, self._transaction_timeout_ms, -1, -1, {})
        return original_build(self, request_struct_class)

    t.InitProducerIdRequest._CLASSES = (t.InitProducerIdRequest_v0, InitProducerIdRequest_v3)
    t.InitProducerIdRequest.build = build

"""Where a single-task round trip's time goes, hop by hop, beside the broker's own floor.

    .venv/bin/python bench/hops.py [--broker tansu|kafka] [--fetch-wait-ms N]

A round trip crosses the broker four times: client -> orchestrator (the submission), orchestrator
-> worker (the task request), worker -> orchestrator (the result), orchestrator -> client (the
reply). Each record's timestamp is taken by its producer when it is sent, so the gap between two
records of one pipeline is one hop plus the processing before the next send. The floor is a bare
librdkafka producer and consumer passing one record at a time through the same broker: no
pipeline of this shape can beat four of those. It is measured twice: with the project's client
settings, and polling as hard as the clients can (no linger, 1 ms fetches). Figures only:
nothing asserts a time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from bench.bench_app import inc  # noqa: E402
from bench.deployment import deployed  # noqa: E402
from events.codec import Codec  # noqa: E402
from streams.admin import consumer_config, producer_config  # noqa: E402
from streams.topics import Topics  # noqa: E402

ROUND_TRIPS = 100
HOPS = ("PipelineSubmitted", "TaskRequested", "TaskSucceeded", "PipelineFinished")


# The quickest a bare hop can be made by client settings alone: no linger, and fetches that wait
# 1 ms (Tansu holds a fetch for its whole wait unless records are there when it comes; asked for
# no wait at all, it returned no records in 15 s). Four of these are a round trip's floor there.
BUSY_POLLING = {"linger.ms": 0}, {"fetch.wait.max.ms": 1}


def broker_floor(deployment: Any, passes: int = ROUND_TRIPS, producer_settings: dict[str, Any] | None = None,
                 consumer_settings: dict[str, Any] | None = None) -> list[float]:
    """Milliseconds from produce() to poll() returning that record, one record at a time, with
    the project's own client settings (linger, acks=all, idempotence, fetch wait) and the given
    librdkafka settings over them."""
    topic = f"hop-floor-{uuid.uuid4().hex[:8]}"
    producer = Producer(producer_config(deployment.settings, **(producer_settings or {})))
    producer.produce(topic, b"warm-up")
    producer.flush(30)
    consumer = Consumer(consumer_config(
        deployment.settings, f"{topic}-reader", **{"auto.offset.reset": "latest", **(consumer_settings or {})}
    ))
    consumer.subscribe([topic])
    while not consumer.assignment():
        consumer.poll(0.1)
    time.sleep(1.0)  # the assignment's first fetch is under way
    latencies = []
    try:
        for _ in range(passes):
            start = time.perf_counter()
            producer.produce(topic, b"x")
            producer.poll(0)
            while (message := consumer.poll(1.0)) is None or message.error():
                pass
            latencies.append((time.perf_counter() - start) * 1000)
            # One at a time, as a round trip's hops are, at random gaps: on Tansu, which holds a
            # fetch for its whole wait, a fixed gap of half the wait met each fetch at the same
            # point of its wait (1.7-1.9 ms a hop at a fixed 5 ms gap, 2.5 at random ones).
            time.sleep(random.uniform(0.002, 0.012))
    finally:
        consumer.close()
    return latencies


def round_trips(deployment: Any) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Run sequential single-task pipelines; return when each was submitted and answered."""
    for i in range(10):  # warm-up: connections, metadata
        deployment.client.submit(inc.send(i)).result(60)
    spans: dict[str, tuple[float, float]] = {}
    for i in range(ROUND_TRIPS):
        start = time.time()
        handle = deployment.client.submit(inc.send(i))
        handle.result(60)
        spans[handle.pipeline_id] = (start, time.time())
    stamps = record_times(deployment, set(spans))
    hops: dict[str, list[float]] = {}
    for pipeline_id, (submitted, answered) in spans.items():
        times = stamps.get(pipeline_id, {})
        if any(name not in times for name in HOPS):
            continue
        sequence = [("client sends", submitted)] + [(name, times[name]) for name in HOPS] + [("client has it", answered)]
        for (before, at), (after, then) in zip(sequence[1:-1], sequence[2:], strict=True):
            hops.setdefault(f"{before} -> {after}", []).append((then - at) * 1000)
    totals = {pipeline_id: (end - start) * 1000 for pipeline_id, (start, end) in spans.items()}
    return totals, hops


def record_times(deployment: Any, pipeline_ids: set[str]) -> dict[str, dict[str, float]]:
    """Each pipeline's first record of each kind -> its producer's timestamp (seconds)."""
    topics = Topics(deployment.settings.app_id)
    codec = Codec()
    stamps: dict[str, dict[str, float]] = {}
    for topic in (topics.pipeline_events, topics.requests(None), topics.replies):
        consumer = Consumer(consumer_config(deployment.settings, f"hops-{uuid.uuid4().hex[:8]}"))
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        quiet = 0
        while quiet < 3:
            messages = consumer.consume(1000, 1.0)
            quiet = 0 if messages else quiet + 1
            for message in messages:
                value = message.value()
                if message.error() or value is None:
                    continue
                event = codec.decode(value)
                pipeline_id = getattr(event, "pipeline_id", None)
                if pipeline_id in pipeline_ids:
                    stamps.setdefault(pipeline_id, {}).setdefault(type(event).__name__, message.timestamp()[1] / 1000)
        consumer.close()
    return stamps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    parser.add_argument("--fetch-wait-ms", type=int, help="every consumer's fetch wait (default: the project's)")
    args = parser.parse_args()
    settings = {} if args.fetch_wait_ms is None else {"fetch_wait_ms": args.fetch_wait_ms}
    with deployed(args.broker, **settings) as deployment:
        floor = broker_floor(deployment)
        busy_floor = broker_floor(deployment, ROUND_TRIPS, *BUSY_POLLING)
        totals, hops = round_trips(deployment)
    print(f"broker: {args.broker}; {ROUND_TRIPS} sequential single-task pipelines; ms, p50 / mean")
    print(f"  {'one bare hop through the broker (librdkafka)':52s} {statistics.median(floor):6.1f} / {statistics.mean(floor):6.1f}")
    for name, values in hops.items():
        print(f"  {name:52s} {statistics.median(values):6.1f} / {statistics.mean(values):6.1f}")
    print(f"  {'round trip, as the client sees it':52s} {statistics.median(totals.values()):6.1f} / {statistics.mean(totals.values()):6.1f}")
    print(f"  floor for four hops: {4 * statistics.median(floor):.1f} ms (p50 of one hop x 4)")
    print(f"  one bare hop, no linger and 1 ms fetches: {statistics.median(busy_floor):.1f} ms p50; x 4 ="
          f" {4 * statistics.median(busy_floor):.1f} ms, before any processing")


if __name__ == "__main__":
    main()

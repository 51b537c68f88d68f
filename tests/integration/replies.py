"""Reading the replies topic itself, to count what clients were told."""
from __future__ import annotations

import collections
import time

from events.codec import Codec
from events.messages import PipelineFinished


def finished_per_pipeline(bootstrap_servers: str, topic: str) -> collections.Counter[str]:
    """How many PipelineFinished replies each pipeline got, read from the topic itself."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "census",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    codec, counts, at_end = Codec(), collections.Counter[str](), set()
    deadline = time.monotonic() + 60
    while len(at_end) < len(partitions) and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is None:
            continue
        if message.error():
            at_end.add(message.partition())
            continue
        event = codec.decode(message.value())
        if isinstance(event, PipelineFinished):
            counts[event.pipeline_id] += 1
    consumer.close()
    assert len(at_end) == len(partitions), "the replies topic could not be read to its end"
    return counts

"""Where each decided event goes: one routing table for the orchestrator's output."""
from __future__ import annotations

from typing import Any

from events import messages as m
from events.codec import Codec
from streams.topics import Topics

_REPLIES = (m.PipelineFinished, m.SubmissionRejected, m.PipelineActionApplied)


def destination(event: Any, topics: Topics) -> tuple[str, bytes]:
    """(topic, key) for an event the engine decided."""
    if isinstance(event, m.TaskRequested):
        # Keyed by task uid: the tasks of one pipeline spread over the request topic's partitions,
        # so every worker in the group shares a wide fan-out.
        return topics.requests(event.worker_name), event.uid.encode()
    key = event.pipeline_id.encode()
    if isinstance(event, m.INPUT_TYPES):
        return topics.pipeline_events, key
    if isinstance(event, _REPLIES):
        return event.reply_topic or topics.replies, key
    return topics.status, key


class Publisher:
    """Sends decided events through the faust app's producer."""

    def __init__(self, app: Any, topics: Topics, codec: Codec) -> None:
        self.app = app
        self.topics = topics
        self.codec = codec
        self._channels: dict[str, Any] = {}

    async def publish(self, event: Any) -> Any:
        """Send `event`; returns a future that resolves once the broker has it."""
        name, key = destination(event, self.topics)
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = self.app.topic(name, key_serializer="raw", value_serializer="raw")
        return await channel.send(key=key, value=self.codec.encode(event))

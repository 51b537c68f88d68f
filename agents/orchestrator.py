"""The orchestrator: a faust agent over the pipeline events topic, keyed by pipeline id.

Per event: decode -> fold + decide (the pure engine) -> store -> publish. No workflow logic here.
"""
from __future__ import annotations

import logging
import warnings
import time
from typing import Any

import faust

from events.codec import Codec
from events.decide import next_wakeup, react
from events.errors import DecodeError
from events.messages import TimerElapsed
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.orchestrator")


def install_orchestrator(app: faust.App, settings: Settings) -> None:
    topics = Topics(settings.app_id)
    codec = Codec()
    events = app.topic(
        topics.pipeline_events, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
    )
    pipelines = app.Table("pipelines", default=None, partitions=settings.partitions)
    # Keys are pipeline ids as bytes; values are PipelineState, pickled (frozen dataclasses and
    # immutables.Map round-trip exactly). faust takes serializers from model types only, so set
    # them here, before the table creates its store. The changelog is written by this app alone.
    pipelines.key_serializer = "raw"
    pipelines.value_serializer = "pickle"
    warnings.filterwarnings("ignore", message="The pickle codec calls pickle.loads", category=Warning)
    publisher = Publisher(app, topics, codec)
    wakeups: dict[str, float] = {}  # pipeline id -> when its next retry falls due

    @app.agent(events, name="orchestrate")
    async def orchestrate(stream: Any) -> None:
        async for raw in stream:
            # Step 1: decode. Bytes that are not an event are logged and skipped (they never
            # stop the agent); dead-letter routing is the reliability issue's job.
            try:
                event = codec.decode(raw)
            except DecodeError as error:
                log.error("skipping an undecodable record: %s", error)
                continue
            pipeline_id = event.pipeline_id
            key = pipeline_id.encode()
            # Step 2: fold and decide, purely.
            state, commands = react(pipelines.get(key), event, time.time())
            # Step 3: store. The table write goes to the changelog before the offset commits, so
            # after a crash steps 1-4 re-run for this event; the fold drops what it already saw.
            if state is not None:
                pipelines[key] = state
                wake = next_wakeup(state)
                if wake is None:
                    wakeups.pop(pipeline_id, None)
                else:
                    wakeups[pipeline_id] = wake
            # Step 4: publish the decisions.
            for command in commands:
                await publisher.publish(command)

    @app.timer(interval=0.05)
    async def fire_due_retries() -> None:
        # Retries are scheduled, never slept: when one falls due, an event goes through the
        # pipeline's own partition so the agent decides it in order with everything else.
        now = time.time()
        for pipeline_id, at in list(wakeups.items()):
            if at <= now:
                del wakeups[pipeline_id]
                await events.send(key=pipeline_id.encode(), value=codec.encode(TimerElapsed(pipeline_id, now)))

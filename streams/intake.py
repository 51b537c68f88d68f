"""Intake: from one record of the pipeline events topic to the pipeline's next state and decisions.

The orchestrator and `replay` both take these steps, so folding the log again gives the states
the orchestrator stored, verdicts on bad input included:

- a record that is not an event goes to the dead letters; when its key names a running pipeline,
  that pipeline fails (it would otherwise wait forever for whatever the record was);
- a state grown past what the changelog stores per pipeline fails its pipeline, keeping only what
  fits (which pipeline it was, how it ended), instead of failing every later write. This is
  checked when a state is stored: every 0.1 s or so live, once at the end in a replay. So a replay
  agrees with the live orchestrator on such a pipeline only if its state was too large at the
  end as well (`replay --check` names any that differ).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from faust.serializers import codecs

import events.pickling  # noqa: F401  (registers fast pickling of the states stored below)
from events.codec import Codec
from events.decide import react
from events.errors import DecodeError
from events.messages import Event, InputRejected
from events.state import Failure, PipelineState
from events.task_exception import input_rejected

# How the orchestrator's table stores a state (RocksDB and changelog): faust's pickle codec.
STATE_CODEC = "pickle"


class LogRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Undecodable:
    """A record that is not an event: why, and the verdict for the pipeline its key names."""

    error: str
    verdict: InputRejected | None


@dataclass(frozen=True)
class Step:
    state: PipelineState | None
    decisions: list[Event]
    stored: bytes | None  # the state as the table stores it (None: nothing to store)


class Intake:
    def __init__(self, dead_letters_topic: str, max_state_bytes: int) -> None:
        self.codec = Codec()
        self.dead_letters_topic = dead_letters_topic
        self.max_state_bytes = max_state_bytes

    def decode(self, record: LogRecord) -> Any:
        """The record's event, or `Undecodable` (the record then goes to the dead letters)."""
        try:
            return self.codec.decode(record.value or b"")
        except DecodeError as error:
            message = f"not a Kafka Tasks event: {error}"
            pipeline_id = _text(record.key)
            if pipeline_id is None:
                return Undecodable(message, None)
            reason = (
                f"A record for this pipeline at {record.where} is {message}. The pipeline cannot go "
                f"on without it. The record is kept on {self.dead_letters_topic}: fix whatever "
                "produced it, then submit the pipeline again."
            )
            return Undecodable(message, InputRejected(pipeline_id, reason))

    def step(self, current: PipelineState | None, event: Any, now: float) -> tuple[PipelineState | None, list[Event]]:
        """Fold `event` into `current` and decide: one event's step."""
        return react(current, event, now)

    def seal(self, state: PipelineState | None, now: float) -> Step:
        """The state to store, as the table stores it. Checked once per store, not per event:
        pickling a wide pipeline's state for each of its results would make a fan-out quadratic.
        A state too large to store fails its pipeline: the step's decisions then end it."""
        if state is None:
            return Step(None, [], None)
        stored = codecs.dumps(STATE_CODEC, state)
        if len(stored) <= self.max_state_bytes:
            return Step(state, [], stored)
        reason = (
            f"The pipeline's state grew to {len(stored):,} bytes, over the {self.max_state_bytes:,} "
            "bytes the orchestrator stores per pipeline (max_state_bytes). Return smaller results "
            "and states from its tasks (a file path, a URL or an object-store key instead of the "
            "data), split it into child pipelines, or raise max_state_bytes."
        )
        decisions: list[Event] = []
        if state.status.is_finished:  # it has ended: keep the ending, drop the rest
            state = state.without_progress()
            if len(codecs.dumps(STATE_CODEC, state)) > self.max_state_bytes:  # its result itself
                state = state.evolve(outcome=Failure(input_rejected(state.pipeline_id, reason), None))
        else:
            state, decisions = react(state, InputRejected(state.pipeline_id, reason, drop_progress=True), now)
            assert state is not None
        return Step(state, decisions, codecs.dumps(STATE_CODEC, state))


def _text(key: bytes | None) -> str | None:
    if not key:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None

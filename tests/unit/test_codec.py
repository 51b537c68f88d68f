"""The Avro codec: round trips, byte-stable golden payloads, framing, and decode errors."""
from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from events import messages as m
from events.codec import EVENT_TYPES, Codec
from events.errors import DecodeError
from schemas import load
from tests.unit.events_sample import SAMPLES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
codec = Codec()


def same(a, b) -> bool:
    """Equality that understands numpy arrays nested in events."""
    return repr(a) == repr(b)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_event_round_trips(name):
    event = SAMPLES[name]
    assert same(codec.decode(codec.encode(event)), event)


def test_every_event_type_has_a_sample():
    assert {type(e).__name__ for e in SAMPLES.values()} == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_payloads_decode_and_encode_byte_for_byte(name):
    version = load()[type(SAMPLES[name]).__name__].version
    path = GOLDEN / f"{name}.v{version}.bin"
    if os.environ.get("KAFKA_TASKS_WRITE_GOLDEN"):
        path.write_bytes(codec.encode(SAMPLES[name]))
    golden = path.read_bytes()
    assert same(codec.decode(golden), SAMPLES[name])
    assert codec.encode(SAMPLES[name]) == golden


OLD_PAYLOADS = sorted((GOLDEN / "history").glob("*/*.bin"))


@pytest.mark.parametrize("path", OLD_PAYLOADS, ids=[f"{p.parent.name}/{p.stem}" for p in OLD_PAYLOADS])
def test_payloads_of_earlier_releases_still_decode(path):
    """What release 0.1.0 wrote (its golden payloads, kept as they were) reads as today's event:
    fields added since take their defaults (Avro resolution against schemas/history/)."""
    name = path.name.split(".")[0]
    assert same(codec.decode(path.read_bytes()), SAMPLES[name])


def test_confluent_framing():
    raw = codec.encode(SAMPLES["TaskRequested"])
    magic, schema_id = struct.unpack(">bI", raw[:5])
    assert magic == 0
    assert load().by_id[schema_id].name == "TaskRequested"


def test_values_keep_their_types():
    event = SAMPLES["TaskRequested"]
    values = (True, 1, 1.0, "s", b"b", None, (1,), [1], {"a": (2, [3])}, np.int32(4), np.bool_(True))
    decoded = codec.decode(codec.encode(replace(event, args=values)))
    assert [type(v) for v in decoded.args] == [type(v) for v in values]
    assert decoded.args == values


def test_schema_ids_are_unique_and_stable():
    ids = {s.name: s.schema_id for s in load().by_name.values()}
    assert ids["PipelineSubmitted"] == 201 and ids["TaskRequested"] == 202  # v2; v1 was 101, 102
    assert len(set(ids.values())) == len(ids)
    writers = load().writers
    assert (writers[101].name, writers[101].version) == ("PipelineSubmitted", 1)  # still readable


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "shorter than the 5-byte Avro framing"),
        (b"hello world", "first byte is 104"),
        (b"\x00\x00\x00\x03\xe7garbage", "unknown event schema id 999"),
        (b"\x00\x00\x00\x00\x66\xff\xff\xff", "corrupt TaskRequested event"),
    ],
)
def test_garbage_raises_decode_error_that_keeps_the_bytes(raw, message):
    with pytest.raises(DecodeError, match=message) as caught:
        codec.decode(raw)
    assert caught.value.raw == raw


def test_a_truncated_event_is_a_decode_error():
    raw = codec.encode(SAMPLES["PipelineSubmitted"])
    with pytest.raises(DecodeError, match="corrupt PipelineSubmitted"):
        codec.decode(raw[:-7])


def test_a_spec_travels_framed_with_its_version():
    spec = SAMPLES["PipelineSubmitted"].spec
    raw = codec.encode_spec(spec)
    assert struct.unpack(">bI", raw[:5]) == (0, load()["PipelineSpec"].schema_id)
    assert same(codec.decode_spec(raw), spec)
    with pytest.raises(DecodeError, match="not a framed PipelineSpec"):
        codec.decode_spec(codec.encode(SAMPLES["TimerElapsed"]))


def test_outcomes_encoded_alone_join_into_the_same_bytes_as_their_task_outcomes():
    batch = SAMPLES["TaskOutcomes"]
    alone = [codec.encode(outcome) for outcome in batch.outcomes]
    assert codec.encode_outcomes(batch.pipeline_id, alone) == codec.encode(batch)
    assert codec.decode(codec.encode_outcomes("p1", alone[1:2])) == m.TaskOutcomes("p1", batch.outcomes[1:2])
    with pytest.raises(ValueError, match="not an outcome"):
        codec.encode_outcomes("p1", [*alone, codec.encode(SAMPLES["TaskRequested"])])


def test_a_codec_over_another_schema_directory_uses_its_own_schemas(tmp_path):
    """Compiled schemas are kept per file, not per id alone: a directory whose schema under some
    id differs (a field fewer here) is written with its own."""
    import json
    import shutil

    from schemas import HERE

    shutil.copytree(HERE, tmp_path / "schemas", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = tmp_path / "schemas" / "SubmissionRejected.v1.avsc"
    changed = json.loads(path.read_text())
    changed["fields"] = [f for f in changed["fields"] if f["name"] != "reply_topic"]
    path.write_text(json.dumps(changed))
    rejected = m.SubmissionRejected("p1", "s1", "no", "replies")
    assert codec.decode(codec.encode(rejected)) == rejected  # (the default directory's, compiled first)
    assert len(Codec(load(tmp_path / "schemas")).encode(rejected)) == len(codec.encode(rejected)) - len(b"\x02\x0ereplies")

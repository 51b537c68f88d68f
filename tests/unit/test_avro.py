"""The compiled Avro writer and reader (events/avro.py) give fastavro's bytes and values."""
from __future__ import annotations

import io
import math
from typing import Any

import fastavro
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.avro import Compiled, Unsupported
from events.codec import Codec, _to_record, value_to_avro
from events.messages import TaskSucceeded
from events.task_exception import TaskException
from schemas import load
from tests.unit.events_sample import SAMPLES

SCHEMAS = load()


def fastavro_bytes(parsed: Any, record: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def fastavro_read(parsed: Any, raw: bytes) -> Any:
    return fastavro.schemaless_reader(
        io.BytesIO(raw), parsed, None, return_record_name=True, return_record_name_override=True
    )


def compiled_bytes(parsed: Any, record: Any) -> bytes:
    out = bytearray()
    Compiled(parsed).write(record, out)
    return bytes(out)


def same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b)  # (nan == nan, and the types of what is nested, too)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_event_is_written_and_read_as_fastavro_does(name):
    event = SAMPLES[name]
    parsed = SCHEMAS[type(event).__name__].parsed
    record = _to_record(event)
    raw = fastavro_bytes(parsed, record)
    assert compiled_bytes(parsed, record) == raw
    assert same(Compiled(parsed).read(raw), fastavro_read(parsed, raw))


@pytest.mark.parametrize("schema_id", sorted(SCHEMAS.writers))
def test_every_schema_of_every_release_compiles(schema_id):
    Compiled(SCHEMAS.writers[schema_id].parsed)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers(min_value=-300, max_value=300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        # (a "-type" key is fastavro's own notation, left to fastavro: tested below)
        | st.dictionaries(st.text(max_size=8).filter(lambda k: k != "-type"), inner, max_size=4)
        | st.builds(TaskException, st.text(max_size=5), st.text(max_size=5), st.text(max_size=5), st.text(max_size=5))
        | st.builds(lambda n: np.arange(n, dtype=np.int32), st.integers(0, 4))
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(result=values, state=values, run=st.integers(0, 2**31 - 1), pause=st.booleans())
def test_any_value_is_written_and_read_as_fastavro_does(result, state, run, pause):
    parsed = SCHEMAS["TaskSucceeded"].parsed
    record = _to_record(TaskSucceeded("p", run, "t", 0, result, state, pause=pause))
    raw = fastavro_bytes(parsed, record)
    assert compiled_bytes(parsed, record) == raw
    assert same(Compiled(parsed).read(raw), fastavro_read(parsed, raw))


UNIONS = fastavro.parse_schema({
    "type": "record", "name": "Unions", "fields": [
        {"name": "number", "type": ["null", "int", "long", "float", "double"]},
        {"name": "text", "type": [{"type": "enum", "name": "Colour", "symbols": ["RED"]}, "string"]},
        {"name": "one_record", "type": ["null", {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "long"}]}]},
        {"name": "mapped", "type": [{"type": "record", "name": "Box", "fields": [{"name": "x", "type": "long"}]},
                                    {"type": "map", "values": "long"}]},
        {"name": "missing", "type": ["null", "string"]},
        {"name": "defaulted", "type": "long", "default": 7},
        {"name": "real", "type": "double"},
    ],
})


@pytest.mark.parametrize("record", [
    {"number": 5, "text": "RED", "one_record": {"x": 1}, "mapped": {"x": 1}, "real": 1.5},
    {"number": 2**40, "text": "blue", "one_record": None, "mapped": {"a": 1, "b": 2}, "real": 2},
    {"number": 2.5, "text": "", "one_record": {"x": -1}, "mapped": {}, "real": -0.0, "missing": "m", "defaulted": 1},
    {"number": None, "text": "RED", "one_record": ("Point", {"x": 3}), "mapped": ("Box", {"x": 4}), "real": math.inf},
    {"number": 2**64, "text": "x", "one_record": None, "mapped": {}, "real": 1.0},  # beyond a long: a double
])
def test_union_branches_are_chosen_as_fastavro_chooses_them(record):
    raw = fastavro_bytes(UNIONS, record)
    assert compiled_bytes(UNIONS, record) == raw
    assert Compiled(UNIONS).read(raw) == fastavro_read(UNIONS, raw)


@pytest.mark.parametrize("record", [
    {"number": np.int64(1), "text": "x", "one_record": None, "mapped": {}, "real": 1.0},  # not a built-in int
    {"number": 1, "text": "x", "one_record": None, "mapped": {"-type": 1}, "real": 1.0},  # fastavro's "-type" notation
    {"number": 1, "text": "x", "one_record": None, "mapped": {}},  # no value and no default
    {"number": 1, "text": "x", "one_record": None, "mapped": ("Nothing", {}), "real": 1.0},  # no such branch
])
def test_what_the_compiled_writer_does_not_take_it_leaves_to_fastavro(record):
    with pytest.raises(Unsupported):
        Compiled(UNIONS).write(record, bytearray())


def test_the_codec_hands_fastavro_what_the_compiled_writer_does_not_take():
    event = TaskSucceeded("p", np.int64(3), "t", 0, 1, None)  # a numpy int where an int belongs
    parsed = SCHEMAS["TaskSucceeded"].parsed
    with pytest.raises(Unsupported):
        Compiled(parsed).write(_to_record(event), bytearray())
    encoded = Codec().encode(event)
    assert encoded[5:] == fastavro_bytes(parsed, _to_record(event))
    assert Codec().decode(encoded).run == 3


def test_blocks_that_give_their_size_are_read_as_fastavro_reads_them():
    # A block of array items may give its size in bytes too (a negative count): other Avro
    # writers do that.
    parsed = SCHEMAS["Value"].parsed
    raw = bytes([12, 3, 4, 0, 0, 0])  # branch 6 (array), -2 items in 2 bytes, two nulls, the end
    assert Compiled(parsed).read(raw) == fastavro_read(parsed, raw) == {"value": [{"value": None}, {"value": None}]}
    assert value_to_avro([None, None]) == {"value": [{"value": None}, {"value": None}]}


@pytest.mark.parametrize("raw", [b"", bytes([2]), bytes([8, 0x80]), bytes([8, 10, 97])])
def test_truncated_bytes_are_an_error_not_a_shorter_value(raw):
    with pytest.raises((IndexError, ValueError)):
        Compiled(SCHEMAS["Value"].parsed).read(raw)

"""Which partition a key goes to (streams/topics.py): murmur2, as the Java client computes it."""
from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2 as aiokafkas_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.topics import murmur2, partition_of

# org.apache.kafka.common.utils.UtilsTest#testMurmur2 (the Java client's own expectations, signed)
JAVA = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize("text", sorted(JAVA))
def test_murmur2_is_the_java_clients(text):
    assert murmur2(text.encode()) == JAVA[text] & 0xFFFFFFFF


@given(st.binary(max_size=80))
def test_murmur2_is_aiokafkas(key):
    assert murmur2(key) == aiokafkas_murmur2(key)


def test_a_key_goes_where_the_java_client_sends_it():
    assert partition_of(b"foobar", 7) == (JAVA["foobar"] & 0x7FFFFFFF) % 7

"""The retention's queue of finished pipelines, on disk, against the dict it replaced."""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from agents.expiry_queue import BLOCK_CACHE_BYTES, ExpiryQueue

STATUSES = ("COMPLETED", "FAILED", "CANCELLED")


@pytest.fixture
def queue(tmp_path: Path):
    queue = ExpiryQueue(tmp_path / "expiry")
    yield queue
    queue.close()


def test_due_pipelines_come_oldest_first_each_once_at_its_latest_finish(queue: ExpiryQueue):
    queue.put(b"b", 20.0, "COMPLETED")
    queue.put(b"a", 10.0, "FAILED")
    queue.put(b"c", 30.0, "COMPLETED")
    queue.put(b"a", 40.0, "COMPLETED")  # ran again, and finished again
    assert queue.due(25.0) == [b"b"]
    assert queue.due(40.0) == [b"b", b"c", b"a"]
    assert queue.due(5.0) == []
    assert queue.counts() == {"COMPLETED": 3}


def test_put_if_absent_keeps_the_entry_a_batch_made_since_the_table_was_read(queue: ExpiryQueue):
    queue.put(b"a", 50.0, "COMPLETED")
    queue.put_if_absent(b"a", 10.0, "FAILED")  # the table's older state
    queue.put_if_absent(b"b", 20.0, "FAILED")
    assert queue.due(100.0) == [b"b", b"a"]
    assert queue.counts() == {"COMPLETED": 1, "FAILED": 1}


def test_discarded_and_cleared_pipelines_are_no_longer_due_or_counted(queue: ExpiryQueue):
    queue.put(b"a", 10.0, "COMPLETED")
    queue.put(b"b", 20.0, "FAILED")
    queue.discard(b"a")
    queue.discard(b"never")
    assert queue.due(100.0) == [b"b"] and queue.counts() == {"FAILED": 1} and len(queue) == 1
    queue.clear()
    assert queue.due(100.0) == [] and queue.counts() == {} and len(queue) == 0
    queue.put(b"a", 5.0, "COMPLETED")  # usable after clearing
    assert queue.due(100.0) == [b"a"]


def test_a_new_queue_starts_empty_whatever_a_previous_run_left(tmp_path: Path):
    first = ExpiryQueue(tmp_path / "expiry")
    first.put(b"a", 10.0, "COMPLETED")
    first.close()
    second = ExpiryQueue(tmp_path / "expiry")
    assert second.due(100.0) == [] and len(second) == 0
    second.close()


def test_it_behaves_as_the_dict_it_replaced_over_random_operations(queue: ExpiryQueue):
    # The orchestrator's dict: key -> finish time (and status), in insertion order, an update
    # moving the key to the back; its due keys were read off the front while times increased.
    rng = random.Random(5)
    model: dict[bytes, tuple[float, str]] = {}
    keys = [f"pipeline-{i}".encode() for i in range(40)] + ["unicode-é".encode(), b"\x00\xff"]
    clock = 1_700_000_000.0
    for _ in range(3000):
        clock += rng.random()
        key, status = rng.choice(keys), rng.choice(STATUSES)
        action = rng.random()
        if action < 0.45:
            queue.put(key, clock, status)
            model.pop(key, None)
            model[key] = (clock, status)
        elif action < 0.6:
            queue.put_if_absent(key, clock - 50.0, status)
            model.setdefault(key, (clock - 50.0, status))
            model = dict(sorted(model.items(), key=lambda item: item[1][0]))
        elif action < 0.75:
            queue.discard(key)
            model.pop(key, None)
        elif action < 0.99:
            cutoff = clock - rng.uniform(0, 40)
            assert queue.due(cutoff) == [k for k, (at, _) in model.items() if at <= cutoff]
        else:
            queue.clear()
            model.clear()
        assert queue.counts() == +Counter(status for _, status in model.values())
    assert queue.due(clock) == list(model)


def test_a_queue_in_use_is_neither_opened_nor_wiped_by_a_second_one(queue: ExpiryQueue):
    # (RocksDB's lock is per process too: a second orchestrator given the same --state-dir)
    queue.put(b"a", 10.0, "COMPLETED")
    with pytest.raises(RuntimeError, match="give each orchestrator replica its own --state-dir"):
        ExpiryQueue(queue.path)
    assert queue.due(100.0) == [b"a"]
    queue.put(b"b", 20.0, "COMPLETED")  # still writable
    assert queue.due(100.0) == [b"a", b"b"]


def test_looking_up_many_random_keys_keeps_its_block_cache_within_its_cap(queue: ExpiryQueue):
    # Every store of a running pipeline looks its key up; RocksDB's default cache (32 MB) grew with
    # the queue. Random keys, as pipeline ids are, spread the lookups over every block.
    rng = random.Random(5)
    for n in range(60_000):
        key = rng.randbytes(16)
        queue.discard(key)
        queue.put(key, float(n), "COMPLETED")
    usage = queue._db.property_int_value("rocksdb.block-cache-usage")  # (RocksDB's own figure)
    assert 0 < usage <= BLOCK_CACHE_BYTES

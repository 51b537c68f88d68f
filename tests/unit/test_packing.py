"""How events of one pipeline are cut into packs under the record size limit (streams/packing.py):
a worker's outcomes (TaskOutcomes), status events (StatusEvents)."""
from __future__ import annotations

from events import messages as m
from events.codec import Codec
from events.status import PipelineStatus
from streams.packing import _size_in_pack, _status_size, pack_limit, runs_within, status_events

LIMIT = 1_000


def test_items_go_together_up_to_the_size_limit_in_order():
    sizes = [40, 30, 30, 50, 100, 10]
    runs = runs_within(sizes, lambda n: n, 100)
    assert runs == [[40, 30, 30], [50], [100], [10]]


def test_an_item_as_large_as_the_limit_goes_alone():
    assert [len(run) for run in runs_within([10, 100, 10], lambda n: n, 100)] == [1, 1, 1]
    assert runs_within([10, 250, 10], lambda n: n, 100) == [[10], [250], [10]]  # larger: alone too


def transition(uid: str, message: str = "") -> m.TaskStatusChanged:
    return m.TaskStatusChanged("p1", 1, uid, "demo.load", 0, "FAILED" if message else "REQUESTED", message)


def test_transitions_are_packed_under_the_record_size_limit_in_order():
    changes = [transition(f"t{i}", "x" * (40 + i)) for i in range(60)]
    packs = list(status_events("p1", changes, LIMIT))
    assert len(packs) > 2 and all(isinstance(pack, m.StatusEvents) for pack in packs[:-1])
    assert all(len(Codec().encode(pack)) <= LIMIT for pack in packs)
    assert [change for pack in packs for change in m.unbatched(pack)] == changes
    # Sized without encoding, and exactly: the packs are nearly full.
    assert sum(len(Codec().encode(pack)) for pack in packs) > 0.9 * LIMIT * (len(packs) - 1)


def test_a_transitions_size_is_its_encodings():
    for change in (transition("t1"), transition("ü" * 70, "é" * 9_000), m.TaskStatusChanged("p" * 64, 2**31 - 1, "", "", -65, ""),
                   m.TaskStatusChanged("p" * 63, 63, "", "", -64, "x" * 8_192), m.TaskStatusChanged("p", 64, "", "", 0, "x" * 8_191)):
        body = Codec().encode(change)[5:]  # (after the framing)
        assert _status_size(change) == len(body)


def test_fewer_than_a_packs_least_go_as_they_are_and_one_too_large_goes_alone():
    assert list(status_events("p1", [transition("t1")], LIMIT)) == [transition("t1")]
    assert list(status_events("p1", [transition("t1"), transition("t2")], LIMIT)) == [transition("t1"), transition("t2")]
    huge = transition("t2", "x" * 2 * LIMIT)  # the record's own limit check decides what becomes of it
    small = [transition("t0"), transition("t1"), transition("t3")]
    assert list(status_events("p1", [*small, huge], LIMIT)) == [m.StatusEvents("p1", tuple(small)), huge]


def test_other_status_events_are_sized_at_least_as_large_as_they_are():
    events = [
        m.PipelineStatusChanged("p" * 70, 2**40, PipelineStatus.COMPLETED, PipelineStatus.RUNNING),
        m.TasksSkipped("p1", 3, tuple(f"t{i}" * 30 for i in range(8))),
        m.RetryScheduled("p1", 1, "é" * 50, 7, 1e300),
        m.SlaMissed("p1", 1, "t1", "demo.load", 0, 0.5, 123.25),
    ]
    for event in events:
        assert _size_in_pack(event) >= 1 + len(Codec().encode(event)[5:])  # (a branch byte, the body)
    packs = list(status_events("p1", [*events, transition("t9")] * 40, LIMIT))
    assert all(len(Codec().encode(pack)) <= LIMIT for pack in packs)
    assert [e for pack in packs for e in m.unbatched(pack)] == [*events, transition("t9")] * 40


def test_what_a_pack_adds_is_kept_free_of_the_limit():
    assert pack_limit("p1", LIMIT) < LIMIT - len("p1")

"""A worker commits a partition only up to its oldest request whose outcome is not on the broker."""
from __future__ import annotations

from agents.in_flight import InFlight

P, Q = ("requests", 0), ("requests", 1)


def test_a_partition_commits_up_to_its_oldest_unfinished_request() -> None:
    flight = InFlight()
    for offset in (5, 6, 7):
        flight.start(P, offset)
    flight.finish(P, 6)
    flight.finish(P, 7)
    assert flight.committable() == {P: 5}  # 5 still runs: a crash now must run it again
    flight.finish(P, 5)
    assert flight.committable() == {P: 8}
    assert flight.count() == 0


def test_partitions_are_independent_and_forgotten_ones_are_neither_committed_nor_counted() -> None:
    flight = InFlight()
    flight.start(P, 0)
    flight.start(Q, 10)
    flight.finish(Q, 10)
    assert flight.committable() == {P: 0, Q: 11}
    flight.forget([P])
    flight.finish(P, 0)  # an outcome delivered after the partition moved away
    assert flight.committable() == {Q: 11}
    assert flight.count() == 0

"""How a worker cuts the outcomes of one pipeline into TaskOutcomes records (agents/outbox.py)."""
from __future__ import annotations

from agents.outbox import Handled, _batches


def outcome(size: int) -> Handled:
    return Handled(message=None, encoded=b"x" * size)


def test_outcomes_go_together_up_to_the_size_limit_in_order():
    outcomes = [outcome(n) for n in (40, 30, 30, 50, 100, 10)]
    batches = _batches(outcomes, 100)
    assert [[len(h.encoded) for h in batch] for batch in batches] == [[40, 30, 30], [50], [100], [10]]
    assert [h for batch in batches for h in batch] == outcomes  # none lost, none reordered


def test_an_outcome_as_large_as_the_limit_goes_alone():
    assert [len(batch) for batch in _batches([outcome(10), outcome(100), outcome(10)], 100)] == [1, 1, 1]

"""Reverts (OpenStack TaskFlow): when a pipeline fails unhandled, its completed tasks are undone by
their reverts, latest first, each with its arguments and result; the pipeline ends REVERTED (or
REVERT_FAILED, naming the reverts that failed) and the caller gets the original error."""
from __future__ import annotations

import pytest

from streams import PipelineStatus, TaskError, in_parallel
from tests.scenarios.catalogue import JOURNAL, book, book_final, book_next, charge, handled


def trip(key: str, amount: int):
    return book.send(key, "hotel").continue_with(book_next, key, "flight").continue_with(charge, key, amount)


def test_a_failed_pipeline_reverts_its_completed_tasks_latest_first(driver, key):
    with pytest.raises(TaskError) as failure:
        driver.run(trip(key, 500))
    assert failure.value.message == "card declined for 500"  # the original error
    assert failure.value.status is PipelineStatus.REVERTED and failure.value.revert_failures == ()
    assert JOURNAL[key] == ["book hotel", "book flight", "charge 500", "cancel flight-booking", "cancel hotel-booking"]


def test_the_reverted_status_is_reported(driver, key):
    pipeline = trip(key, 500)
    with pytest.raises(TaskError):
        driver.run(pipeline)
    assert driver.status(pipeline.id) is PipelineStatus.REVERTED
    history = driver.status_history(pipeline.id)
    assert history[-2:] == [PipelineStatus.REVERTING, PipelineStatus.REVERTED]


def test_a_pipeline_that_succeeds_reverts_nothing(driver, key):
    assert driver.run(trip(key, 50)) == "charged"
    assert JOURNAL[key] == ["book hotel", "book flight", "charge 50"]


def test_a_handled_failure_reverts_nothing(driver, key):
    assert driver.run(trip(key, 500).exceptionally(handled, "refunded")) == "refunded"
    assert "cancel hotel-booking" not in JOURNAL[key]


def test_a_failing_revert_is_reported_and_the_others_still_run(driver, key):
    pipeline = (book.send(key, "hotel").continue_with(book_final, key, "concert")
                .continue_with(charge, key, 500))
    with pytest.raises(TaskError) as failure:
        driver.run(pipeline)
    assert failure.value.message == "card declined for 500"
    assert failure.value.status is PipelineStatus.REVERT_FAILED
    [reason] = failure.value.revert_failures
    assert "unbook_refused" in reason and "concert bookings cannot be cancelled" in reason
    assert JOURNAL[key][-2:] == ["cannot cancel concert-booking", "cancel hotel-booking"]


def test_tasks_of_a_group_are_reverted_too(driver, key):
    pipeline = in_parallel([book.send(key, "hotel"), book.send(key, "car")]).continue_with(charge, key, 500)
    with pytest.raises(TaskError, match="card declined"):
        driver.run(pipeline)
    journal = JOURNAL[key]
    assert sorted(journal[-2:]) == ["cancel car-booking", "cancel hotel-booking"]
    assert driver.status(pipeline.id) is PipelineStatus.REVERTED


def test_tasks_that_never_ran_are_not_reverted(driver, key):
    pipeline = book.send(key, "hotel").continue_with(charge, key, 500).continue_with(book_next, key, "flight")
    with pytest.raises(TaskError):
        driver.run(pipeline)
    assert JOURNAL[key] == ["book hotel", "charge 500", "cancel hotel-booking"]

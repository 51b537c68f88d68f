"""RetryPolicy: retries counted as retries, subclasses matched, delays scheduled."""
from __future__ import annotations

from datetime import timedelta

import pytest

from streams import RetryPolicy, TaskError
from tests.scenarios.catalogue import (
    CALLS,
    CustomError,
    delayed_flaky,
    flaky,
    flaky_bound,
    flaky_custom,
)


def test_retries_until_success(driver, key):
    assert driver.run(flaky.send(key, 2).set(retry_policy=RetryPolicy(max_retries=2))) == "ok"
    assert CALLS[key] == 3


def test_max_retries_counts_retries_not_attempts(driver, key):
    with pytest.raises(TaskError) as caught:
        driver.run(flaky.send(key, 3).set(retry_policy=RetryPolicy(max_retries=2)))
    assert caught.value.message == f"flaky {key} #3"
    assert CALLS[key] == 3


def test_no_policy_no_retry(driver, key):
    with pytest.raises(TaskError):
        driver.run(flaky.send(key, 1))
    assert CALLS[key] == 1


def test_only_listed_exceptions_are_retried(driver, key):
    policy = RetryPolicy(retry_for=[ValueError], max_retries=5)
    with pytest.raises(TaskError) as caught:
        driver.run(flaky_custom.send(key, 1).set(retry_policy=policy))
    assert caught.value.exception_type == "tests.scenarios.catalogue.CustomError"
    assert CALLS[key] == 1


def test_subclasses_match(driver, key):
    policy = RetryPolicy(retry_for=[LookupError], max_retries=1)
    assert issubclass(CustomError, LookupError)
    assert driver.run(flaky_custom.send(key, 1).set(retry_policy=policy)) == "recovered"


def test_policy_from_bind(driver, key):
    assert driver.run(flaky_bound.send(key, 2)) == f"{key} after 3"


def test_policy_set_on_the_step_overrides_bind(driver, key):
    with pytest.raises(TaskError):
        driver.run(flaky_bound.send(key, 1).set(retry_policy=RetryPolicy(max_retries=0)))
    assert CALLS[key] == 1


def test_delayed_retries(driver, key):
    assert driver.run(delayed_flaky.send(key, 2)) == "done"
    assert CALLS[key] == 3


def test_retry_inside_a_group(driver, key):
    from streams import in_parallel

    pipeline = in_parallel(
        [flaky.send(key, 1, "a").set(retry_policy=RetryPolicy(max_retries=1)), flaky.send(key + "b", 0, "b")]
    )
    assert driver.run(pipeline) == ["a", "b"]


def test_exponential_back_off_delays():
    spec = RetryPolicy(delay=timedelta(milliseconds=100), exponential_back_off=True, max_retries=3).to_spec()
    assert [spec.delay_for(n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    fixed = RetryPolicy(delay=timedelta(milliseconds=100)).to_spec()
    assert [fixed.delay_for(n) for n in (1, 2)] == [0.1, 0.1]


def test_retry_policy_rejects_non_exceptions():
    with pytest.raises(TypeError, match="exception classes"):
        RetryPolicy(retry_for=["ValueError"])  # type: ignore[list-item]

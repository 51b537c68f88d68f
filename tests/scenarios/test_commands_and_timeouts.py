"""Command tasks (streams/command.py) and task timeouts: limits a CRON workflow tool has."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams import KafkaTasks, RetryPolicy, TaskError
from streams.errors import PipelineDefinitionError
from tests.scenarios.catalogue import complain, count_chars, nap, shout


def test_stdout_is_the_result_and_the_next_step_s_argument(driver):
    assert driver.run(shout.send("hello").continue_with(count_chars)) == "6"


def test_arguments_are_shell_quoted_never_run(driver, tmp_path: Path):
    victim = tmp_path / "victim"
    victim.touch()
    assert driver.run(shout.send(f"a; rm {victim}")) == f"A; RM {str(victim).upper()}!"
    assert victim.exists()


def test_a_non_zero_exit_fails_the_pipeline_with_stderr(driver):
    with pytest.raises(TaskError) as failure:
        driver.run(complain.send(volume="/data"))
    assert failure.value.exception_type.endswith("CommandFailedError")
    assert "exited with 3" in failure.value.message and "disk full on /data" in failure.value.message


def test_a_command_past_its_timeout_is_killed_and_fails_with_task_timeout_error(driver):
    started = time.monotonic()
    with pytest.raises(TaskError) as failure:
        driver.run(nap.send(30))
    assert failure.value.exception_type.endswith("TaskTimeoutError")
    assert "timeout of 0.5 s" in failure.value.message
    assert time.monotonic() - started < 25  # killed, not waited out


def test_a_timeout_kills_what_the_command_started_too(tmp_path: Path):
    tasks = KafkaTasks("commands")
    marker = tmp_path / "late"
    late = tasks.command("late", "(sleep 1; touch {path}) & sleep 30", timeout=0.3)
    with pytest.raises(TaskError, match="TaskTimeoutError"):
        tasks.run(late.send(str(marker)))
    time.sleep(1.5)
    assert not marker.exists()  # the background job died with the command


def test_a_timeout_is_retried_by_a_policy_that_names_it(tmp_path: Path):
    from streams.errors import TaskTimeoutError

    tasks = KafkaTasks("commands")
    attempts = tmp_path / "attempts"
    # Slow until it has run twice: the third attempt answers in time.
    flaky = tasks.command(
        "flaky",
        "echo x >> {log}; [ $(wc -l < {log}) -ge 3 ] || sleep 5; wc -l < {log} | tr -d ' '",
        timeout=0.5,
        retry_policy=RetryPolicy(retry_for=[TaskTimeoutError], max_retries=3),
    )
    assert tasks.run(flaky.send(str(attempts))) == "3"


def test_placeholders_are_the_parameters_and_bad_templates_are_refused():
    tasks = KafkaTasks("commands")
    copy = tasks.command("copy", "cp {source} {target} && echo {target}")
    assert [name for name, _ in copy.signature.positional] == ["source", "target"]
    with pytest.raises(TaskError, match="Not enough args"):
        tasks.run(copy.send("a"))
    with pytest.raises(PipelineDefinitionError, match=r"placeholder \{\} must be a name"):
        tasks.command("bad", "echo {}")
    with pytest.raises(ValueError, match="already registered"):
        tasks.command("copy", "true")


def test_an_async_task_past_its_timeout_is_cancelled_and_fails(driver):
    from tests.scenarios.catalogue import slow_async

    assert driver.run(slow_async.send(0)) == "done"
    with pytest.raises(TaskError) as failure:
        driver.run(slow_async.send(30))
    assert failure.value.exception_type.endswith("TaskTimeoutError")
    assert "timeout of 0.3 s" in failure.value.message


def test_a_plain_function_past_its_timeout_fails_and_is_abandoned(driver):
    from tests.scenarios.catalogue import slow_sync

    with pytest.raises(TaskError) as failure:
        driver.run(slow_sync.send(1.5))
    assert "cannot be stopped" in failure.value.message


def test_a_timed_out_task_is_retried_by_a_policy_that_names_task_timeout_error(driver, key):
    from tests.scenarios.catalogue import slow_until_second_call

    assert driver.run(slow_until_second_call.send(key)) == 2

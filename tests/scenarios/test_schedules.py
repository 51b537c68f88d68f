"""Schedules in-process (events/schedule.py), on a clock the test moves: one run per slot, catch-up
or skip of missed slots, start and end dates, pause, resume, remove, and a slot fired twice."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.messages import PipelineFinished, ScheduleUpdated, schedule_key
from events.schedule import ScheduleStatus
from streams import ActionRejectedError, KafkaTasks
from tests.scenarios.catalogue import add, tasks

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC).timestamp()  # a whole minute


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def runner_at(now: float = T0 + 1) -> tuple[Clock, object]:
    clock = Clock(now)
    return clock, tasks.in_process(clock)


def every_10_s(name: str = "tick", **options: object) -> object:
    return KafkaTasks("schedules").schedule(name, add.send(1, 2), cron="* * * * * */10", **options)


def finished(runner: object) -> list[str]:
    return [e.pipeline_id for e in runner.published if isinstance(e, PipelineFinished)]  # type: ignore[attr-defined]


def latest_update(runner: object, name: str) -> ScheduleUpdated:
    return [e for e in runner.published if isinstance(e, ScheduleUpdated) and e.name == name][-1]  # type: ignore[attr-defined]


def test_each_slot_runs_the_pipeline_once_under_an_id_naming_the_slot():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s())
    assert runner.schedule_runs("tick") == []  # defined at 12:00:01: the first slot is 12:00:10
    for _ in range(3):
        clock.now += 10
        runner.run_due()
    runs = ["tick@2026-11-28T12:00:10Z", "tick@2026-11-28T12:00:20Z", "tick@2026-11-28T12:00:30Z"]
    assert runner.schedule_runs("tick") == runs
    assert finished(runner) == runs
    assert [runner.result(run) for run in runs] == [3, 3, 3]
    update = latest_update(runner, "tick")
    assert (update.runs, update.schedule_status, update.task_names) == (3, "ACTIVE", (add.name,))
    assert update.next_slot_at == T0 + 40 and update.last_pipeline_id == runs[-1]


def test_missed_slots_are_skipped_but_the_latest_runs_without_catch_up():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s())
    clock.now += 35  # 12:00:36: the slots at :10, :20 and :30 have passed
    runner.run_due()
    assert runner.schedule_runs("tick") == ["tick@2026-11-28T12:00:30Z"]
    clock.now += 5
    runner.run_due()
    assert runner.schedule_runs("tick")[-1] == "tick@2026-11-28T12:00:40Z"


def test_with_catch_up_every_missed_slot_runs_oldest_first():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s(catch_up=True))
    clock.now += 35
    runner.run_due()
    assert runner.schedule_runs("tick") == [
        "tick@2026-11-28T12:00:10Z", "tick@2026-11-28T12:00:20Z", "tick@2026-11-28T12:00:30Z"
    ]


def test_a_long_catch_up_goes_in_batches_and_misses_nothing():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s(catch_up=True))
    clock.now += 10 * 250 + 5  # 250 slots passed: more than one decision submits at a time
    runner.run_due()
    runs = runner.schedule_runs("tick")
    assert len(runs) == len(set(runs)) == 250 == len(finished(runner))


def test_start_and_end_dates_bound_the_slots_and_an_ended_schedule_says_so():
    clock, runner = runner_at()
    start = datetime(2026, 11, 28, 12, 0, 20)  # no time zone: UTC
    end = datetime(2026, 11, 28, 12, 0, 40, tzinfo=UTC)
    runner.add_schedule(every_10_s(start_date=start, end_date=end, catch_up=True))
    clock.now += 120
    runner.run_due()
    assert runner.schedule_runs("tick") == [
        "tick@2026-11-28T12:00:20Z", "tick@2026-11-28T12:00:30Z", "tick@2026-11-28T12:00:40Z"
    ]
    assert latest_update(runner, "tick").schedule_status == "ENDED"
    assert runner.states[schedule_key("tick")].status.is_finished  # the retention may drop it now


def test_a_paused_schedule_runs_nothing_and_resumes_as_its_catch_up_says():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s())
    runner.pause_schedule("tick")
    clock.now += 35
    runner.run_due()
    assert runner.schedule_runs("tick") == []
    assert latest_update(runner, "tick").schedule_status == "PAUSED"
    runner.resume_schedule("tick")
    assert runner.schedule_runs("tick") == ["tick@2026-11-28T12:00:30Z"]  # the latest missed slot


def test_a_schedule_declared_inactive_waits_for_resume():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s(active=False))
    clock.now += 35
    runner.run_due()
    assert runner.schedule_runs("tick") == []
    runner.resume_schedule("tick")
    assert len(runner.schedule_runs("tick")) == 1


def test_a_removed_schedule_stops_and_can_be_added_again():
    clock, runner = runner_at()
    schedule = every_10_s()
    runner.add_schedule(schedule)
    clock.now += 10
    runner.run_due()
    runner.remove_schedule("tick")
    clock.now += 30
    runner.run_due()
    assert runner.schedule_runs("tick") == ["tick@2026-11-28T12:00:10Z"]
    with pytest.raises(ActionRejectedError, match="REMOVED"):
        runner.pause_schedule("tick")
    runner.add_schedule(schedule)
    clock.now += 10
    runner.run_due()
    assert runner.schedule_runs("tick")[-1] == "tick@2026-11-28T12:00:50Z"


def test_actions_on_an_unknown_schedule_are_rejected_with_its_name():
    _, runner = runner_at()
    with pytest.raises(ActionRejectedError, match="schedule nightly is unknown: add it first"):
        runner.pause_schedule("nightly")


def test_a_slot_fired_twice_runs_once():
    """A replica that fired a slot and died before storing that it had: the next owner restores
    the older state and fires the same slot again, under the same pipeline and submission id."""
    clock, runner = runner_at()
    runner.add_schedule(every_10_s())
    before_firing = runner.states[schedule_key("tick")]
    clock.now += 10
    runner.run_due()
    runner.states[schedule_key("tick")] = before_firing  # the fired slot is forgotten
    runner.run_due()
    assert runner.schedule_runs("tick") == ["tick@2026-11-28T12:00:10Z"] * 2  # submitted twice ...
    assert finished(runner) == ["tick@2026-11-28T12:00:10Z"]  # ... run once


def test_redefining_a_schedule_keeps_the_slots_it_has_run():
    clock, runner = runner_at()
    runner.add_schedule(every_10_s())
    clock.now += 10
    runner.run_due()
    runner.add_schedule(KafkaTasks("schedules").schedule("tick", add.send(5, 5), cron="* * * * * */5", catch_up=True))
    clock.now += 12  # 12:00:23
    runner.run_due()
    runs = runner.schedule_runs("tick")
    assert runs == ["tick@2026-11-28T12:00:10Z", "tick@2026-11-28T12:00:15Z", "tick@2026-11-28T12:00:20Z"]
    assert runner.result(runs[-1]) == 10
    assert runner.states[schedule_key("tick")].status is ScheduleStatus.ACTIVE


@pytest.mark.parametrize(
    ("name", "cron", "message"),
    [
        ("nightly", "every night", "not a CRON expression"),
        ("night ly", "0 2 * * *", "without spaces"),
        ("a@b", "0 2 * * *", "'@'"),
    ],
)
def test_a_bad_schedule_is_refused_when_declared(name: str, cron: str, message: str):
    with pytest.raises(ValueError, match=message):
        KafkaTasks("schedules").schedule(name, add.send(1, 2), cron=cron)


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="ends before it starts"):
        KafkaTasks("schedules").schedule("x", add.send(1, 2), cron="0 2 * * *", start_date=T0, end_date=T0 - 1)


def test_a_schedule_name_is_declared_once_per_app():
    app = KafkaTasks("schedules")
    app.schedule("x", add.send(1, 2), cron="0 2 * * *")
    with pytest.raises(ValueError, match="already declared"):
        app.schedule("x", add.send(1, 2), cron="0 3 * * *")


def test_a_bad_definition_from_another_client_is_marked_invalid_and_never_fires():
    from dataclasses import replace

    clock, runner = runner_at()
    good = every_10_s()
    runner._inbox.append(replace(good, cron="every ten seconds"))  # as a foreign client might
    runner.run_due()
    clock.now += 60
    runner.run_due()
    update = latest_update(runner, "tick")
    assert update.schedule_status == "INVALID" and "not a CRON expression" in update.message
    assert runner.schedule_runs("tick") == []
    runner.add_schedule(good)  # defined again, properly
    clock.now += 10
    runner.run_due()
    assert len(runner.schedule_runs("tick")) == 1

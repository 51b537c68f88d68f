"""One fixed instance of every event, with fixed ids: the golden payloads are their encodings."""
from __future__ import annotations

import numpy as np

from events import messages as m
from events.spec import EntryKind, GroupEntry, Initial, PipelineSpec, RetrySpec, TaskEntry
from events.status import PipelineStatus
from events.task_exception import TaskException

ERROR = TaskException("t1", "builtins.ValueError", "boom", "Traceback ...")
RETRY = RetrySpec(("builtins.ValueError",), 2, 10.0, True)
SPEC = PipelineSpec(
    entries=(
        GroupEntry(
            "g1",
            (
                PipelineSpec((TaskEntry("t1", "demo.load", ("AAPL",), {"days": 5}),)),
                PipelineSpec((TaskEntry("t2", "demo.load", ("MSFT",), retry=RETRY, worker_name="io"),)),
            ),
            max_parallelism=2,
        ),
        TaskEntry("t3", "demo.average", is_wait=True, display_name="avg"),
        TaskEntry("t4", "demo.handle", kind=EntryKind.EXCEPTIONALLY),
        TaskEntry("t5", "demo.cleanup", kind=EntryKind.FINALLY, is_fruitful=False),
    ),
    initial=Initial(args=None, kwargs={"k": (1, 2)}, state={"s": [1.5, None]}, has_args=True, has_kwargs=True, has_state=True),
)

SAMPLES = {
    "PipelineSubmitted": m.PipelineSubmitted(
        "p1", "s1", SPEC, "replies", m.ParentTask("p0", 1, "t9", 0, True, {"x": 1}), "p0"
    ),
    "TaskRequested": m.TaskRequested(
        "p1", 1, "t1", 0, "demo.load", ("AAPL", b"raw", True, 7, 2.5, None), {"days": 5},
        {"s": 1}, True, RETRY, "io", "Load", "p1",
    ),
    "TaskSucceeded": m.TaskSucceeded(
        "p1", 1, "t1", 0, [np.float64(1.5), np.arange(4, dtype=np.int16).reshape(2, 2), (1, "a")], None
    ),
    "TaskSucceededWithChild": m.TaskSucceeded("p1", 1, "t1", 0, None, "S", child=SPEC, pause=True),
    "TaskFailed": m.TaskFailed(
        "p1", 1, "t1", 0, ERROR, {"s": 1}, ("builtins.ValueError", "builtins.Exception")
    ),
    "TaskOutcomes": m.TaskOutcomes(
        "p1",
        (
            m.TaskSucceeded("p1", 1, "t1", 0, 5, {"s": 1}),
            m.TaskFailed("p1", 1, "t2", 1, ERROR, None, ("builtins.ValueError", "builtins.Exception")),
            m.TaskSucceeded("p1", 1, "t3", 0, None, None, child=SPEC),
        ),
    ),
    "StatusEvents": m.StatusEvents(
        "p1",
        (
            m.TaskStatusChanged("p1", 1, "t1", "demo.load", 0, "REQUESTED"),
            m.PipelineStatusChanged("p1", 1, PipelineStatus.RUNNING, PipelineStatus.PENDING),
            m.TaskStatusChanged("p1", 1, "t2", "demo.load", 1, "FAILED", "ValueError: no such stock"),
            m.RetryScheduled("p1", 1, "t2", 2, 12.5),
            m.TasksSkipped("p1", 1, ("t3",)),
            m.SlaMissed("p1", 1, "t4", "demo.load", 0, 1.5, 10.0),
        ),
    ),
    "RetryScheduled": m.RetryScheduled("p1", 1, "t1", 1, 12.5),
    "PipelineActionRequested": m.PipelineActionRequested("p1", "a1", m.Action.CANCEL, "replies"),
    "PipelineActionApplied": m.PipelineActionApplied("p1", "a1", m.Action.PAUSE, False, "no", None),
    "PipelineStatusChanged": m.PipelineStatusChanged("p1", 1, PipelineStatus.PAUSED, PipelineStatus.RUNNING),
    "TasksSkipped": m.TasksSkipped("p1", 1, ("t3", "t4")),
    "PipelineFinished": m.PipelineFinished(
        "p1", 1, "s1", PipelineStatus.FAILED, None, ERROR, [ERROR], "replies"
    ),
    "SubmissionRejected": m.SubmissionRejected("p1", "s2", "still running", "replies"),
    "TimerElapsed": m.TimerElapsed("p1", 1700000000.25),
    "PermitRequested": m.PermitRequested(
        m.TaskRequested("p1", 1, "t1", 2, "demo.load", ("AAPL",), {"days": 5}, None, True, RETRY, "io", None, "p0",
                        None, 3),
        3,
    ),
    "PermitReleased": m.PermitReleased("demo.load", ("p1:1:t1:2", "p2:1:t1:0")),
    "SlaMissed": m.SlaMissed("p1", 1, "t1", "demo.load", 0, 30.0, 1700000000.5),
    "TaskStatusChanged": m.TaskStatusChanged("p1", 1, "t1", "demo.load", 2, "FAILED", "no data for AAPL"),
    "ScheduleDefined": m.ScheduleDefined("nightly", "0 2 * * *", SPEC, 1700000000.0, None, False, True),
    "ScheduleUpdated": m.ScheduleUpdated(
        "nightly", "0 2 * * *", "ACTIVE", True, ("demo.load", "demo.average"), None, 1800000000.5,
        1700003600.0, 1700000000.0, "nightly@2023-11-14T22:13:20Z", 12,
    ),
}

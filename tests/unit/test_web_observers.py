"""The orchestrator's observers behind the REST API, dashboard and /metrics, fed as its loop feeds
them (fold and decide, then `folded`): the pipeline index (agents/pipeline_index.py), the task
activity (agents/task_activity.py) and the metrics (agents/metrics.py)."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from agents.metrics import OrchestratorMetrics
from agents.pipeline_index import PipelineIndex
from agents.task_activity import TaskActivity
from events import messages as m
from events.decide import react
from events.limiter import LimiterState
from events.spec import PipelineSpec, TaskEntry
from events.task_exception import TaskException
from streams import RetryPolicy
from streams.pipeline_view import error_json

ERROR = TaskException("a", "builtins.ValueError", "boom", "Traceback ...")
MRO = ("builtins.ValueError", "builtins.Exception")
RETRY = RetryPolicy(max_retries=1, delay=timedelta(seconds=5)).to_spec()


def spec(*entries) -> PipelineSpec:
    return PipelineSpec(tuple(entries))


def task(uid: str, *args, **options) -> TaskEntry:
    return TaskEntry(uid, f"m.{uid}", args, **options)


class Replica:
    """The orchestrator's loop without Kafka: fold and decide each event, then tell the observers."""

    def __init__(self, *observers) -> None:
        self.observers = observers
        self.states: dict[str, object] = {}
        self.requests: dict[tuple[str, str], m.TaskRequested] = {}

    def feed(self, event, at: float) -> None:
        state, decisions = react(self.states.get(event.pipeline_id), event, at)
        self.states[event.pipeline_id] = state
        for decision in decisions:
            request = getattr(decision, "request", decision)  # a PermitRequested holds its request
            if isinstance(request, m.TaskRequested):
                self.requests[request.pipeline_id, request.uid] = request
        for observer in self.observers:
            observer.folded(event, state, decisions, at)

    def submit(self, pipeline_id: str, pipeline: PipelineSpec, at: float, run: int = 1) -> None:
        self.feed(m.PipelineSubmitted(pipeline_id, f"s{run}", pipeline), at)

    def succeed(self, pipeline_id: str, uid: str, result, at: float) -> None:
        request = self.requests[pipeline_id, uid]
        self.feed(m.TaskSucceeded(pipeline_id, request.run, uid, request.attempt, result), at)

    def fail(self, pipeline_id: str, uid: str, at: float) -> None:
        request = self.requests[pipeline_id, uid]
        self.feed(m.TaskFailed(pipeline_id, request.run, uid, request.attempt, ERROR, None, MRO), at)


def watched(observer):
    return observer, Replica(observer)


# -- the pipeline index ----------------------------------------------------------------------------


def indexed() -> tuple[PipelineIndex, Replica]:
    index, replica = watched(PipelineIndex())
    replica.submit("old", spec(task("load")), at=100.0)
    replica.succeed("old", "load", 1, at=101.0)
    replica.submit("mid", spec(task("load"), task("save")), at=200.0)
    replica.submit("new", spec(task("report")), at=300.0)
    return index, replica


def ids(summaries) -> list[str]:
    return [s.pipeline_id for s in summaries]


def test_the_index_lists_pipelines_newest_first_and_filters_them():
    index, _ = indexed()
    assert ids(index.pipelines()) == ["new", "mid", "old"]
    assert ids(index.pipelines(status={"COMPLETED"})) == ["old"]
    assert ids(index.pipelines(status={"RUNNING", "COMPLETED"}, task_name="m.load")) == ["mid", "old"]
    assert ids(index.pipelines(since=200.0)) == ["new", "mid"]  # since: inclusive
    assert ids(index.pipelines(until=300.0)) == ["mid", "old"]  # until: exclusive
    assert ids(index.pipelines(limit=2)) == ["new", "mid"]
    assert index.counts_by_status() == {"RUNNING": 2, "COMPLETED": 1}


def test_a_summary_follows_its_pipeline_to_the_end_and_says_what_it_runs():
    index, replica = indexed()
    replica.succeed("mid", "load", 1, at=250.0)
    replica.succeed("mid", "save", 2, at=260.0)
    [mid] = index.pipelines(task_name="m.save")
    assert mid.as_json() == {"pipeline_id": "mid", "status": "COMPLETED", "started_at": 200.0, "finished_at": 260.0,
                             "tasks": 2, "task_names": ["m.load", "m.save"], "root_pipeline_id": "mid"}
    assert index.counts_by_status() == {"RUNNING": 1, "COMPLETED": 2}
    replica.feed(m.PipelineActionRequested("new", "a1", m.Action.PAUSE), at=270.0)
    assert ids(index.pipelines(status={"PAUSED"})) == ["new"]


def test_removed_pipelines_leave_the_index_and_forgotten_empties_it_until_loaded_again():
    index, replica = indexed()
    index.removed("old")
    index.removed("never-seen")
    assert ids(index.pipelines()) == ["new", "mid"]
    index.forgotten()
    assert index.pipelines() == [] and index.counts_by_status() == {}
    for state in replica.states.values():  # rebuilt from the table after partitions move
        index.loaded(state)
    assert ids(index.pipelines()) == ["new", "mid", "old"]


def test_summaries_of_pipelines_running_the_same_tasks_share_one_set_of_names():
    # Each finished pipeline's summary stays for the retention: a set apiece cost 216 bytes more.
    index, replica = indexed()
    replica.submit("again", spec(task("load")), at=400.0)
    replica.submit("reordered", spec(task("save"), task("load")), at=500.0)
    by_id = {s.pipeline_id: s for s in index.pipelines()}
    assert by_id["again"].task_names is by_id["old"].task_names == frozenset({"m.load"})
    assert by_id["reordered"].task_names is by_id["mid"].task_names
    assert by_id["new"].task_names is not by_id["old"].task_names


def test_the_index_keeps_every_running_pipeline_and_the_latest_to_finish():
    index, replica = watched(PipelineIndex(max_finished=2))
    for n, finished_at in enumerate([30.0, 10.0, 20.0, 40.0]):
        replica.submit(f"p{n}", spec(task("load")), at=1.0 + n)
        replica.succeed(f"p{n}", "load", n, at=finished_at)
    replica.submit("running", spec(task("load")), at=5.0)
    assert ids(index.pipelines()) == ["running", "p3", "p0"]  # finished at 40 and 30, started at 4 and 1
    assert index.counts_by_status() == {"RUNNING": 1, "COMPLETED": 2}
    replica.submit("p3", spec(task("load")), at=50.0, run=2)  # runs again: no longer finished
    replica.succeed("p3", "load", 3, at=60.0)
    replica.submit("p2", spec(task("load")), at=61.0, run=2)
    assert ids(index.pipelines()) == ["p2", "p3", "running", "p0"]  # p3 started again at 50
    index.forgotten()  # rebuilt from the table, in no particular order: the latest are kept again
    for pipeline_id in ["p3", "p1", "running", "p0", "p2"]:
        index.loaded(replica.states[pipeline_id])
    assert ids(index.pipelines()) == ["p2", "p3", "running", "p0"]


def test_finished_pipelines_are_counted_by_the_orchestrators_queue_when_it_has_one():
    index, replica = indexed()  # old: COMPLETED; mid, new: RUNNING
    index.finished_counts = lambda: Counter({"COMPLETED": 7, "FAILED": 2})
    assert index.counts_by_status() == {"RUNNING": 2, "COMPLETED": 7, "FAILED": 2}


def define_nightly(replica: Replica, name: str = "nightly") -> None:
    replica.feed(m.ScheduleDefined(name, "0 2 * * *", spec(task("load"), task("save"))), at=1_700_000_000.0)


def test_schedules_are_listed_by_name_beside_the_pipelines_and_limiters_are_ignored():
    index, replica = watched(PipelineIndex())
    define_nightly(replica, "nightly")
    define_nightly(replica, "hourly")
    index.loaded(LimiterState("limit:m.load", 2))
    [hourly, nightly] = index.schedules()
    assert (nightly["name"], nightly["cron"], nightly["status"], nightly["tasks"]) == \
        ("nightly", "0 2 * * *", "ACTIVE", ["m.load", "m.save"])
    assert hourly["name"] == "hourly" and nightly["next_slot"] > 1_700_000_000.0
    assert index.pipelines() == []
    replica.feed(m.PipelineActionRequested("schedule:nightly", "a1", m.Action.PAUSE), at=1_700_000_001.0)
    assert index.schedules()[1]["status"] == "PAUSED"
    with pytest.raises(TypeError, match="unexpected state in the table: str"):
        index.loaded("p1")


def test_a_schedule_dropped_from_the_table_leaves_the_index():
    index, replica = watched(PipelineIndex())
    define_nightly(replica)
    replica.feed(m.PipelineActionRequested("schedule:nightly", "a1", m.Action.CANCEL), at=1_700_000_001.0)
    assert replica.states["schedule:nightly"].status.is_finished  # so the retention will drop it
    index.removed("schedule:nightly")  # as the orchestrator calls it, with the table's key
    assert index.schedules() == []


# -- the task activity -----------------------------------------------------------------------------


def test_the_activity_records_each_tasks_request_start_and_result():
    activity, replica = watched(TaskActivity())
    replica.submit("p1", spec(task("a", 1, kwargs={"key": "k"}), task("b")), at=10.0)
    assert activity.of("p1") == {"a": {"args": [1], "kwargs": {"key": "k"}, "attempt": 0, "requested_at": 10.0,
                                       "started_at": None, "finished_at": None, "status": "REQUESTED"}}
    replica.feed(m.TaskStatusChanged("p1", 1, "a", "m.a", 0, "STARTED"), at=11.0)
    replica.succeed("p1", "a", 2, at=12.0)
    a, b = activity.of("p1")["a"], activity.of("p1")["b"]
    assert (a["status"], a["started_at"], a["finished_at"], a["result"], a["error"]) == ("SUCCEEDED", 11.0, 12.0, 2, None)
    assert (b["args"], b["requested_at"], b["status"]) == ([2], 12.0, "REQUESTED")  # the previous result first


def test_the_activity_records_a_failure_with_its_error_and_the_retry_that_follows():
    activity, replica = watched(TaskActivity())
    replica.submit("p1", spec(task("a", retry=RETRY)), at=10.0)
    replica.fail("p1", "a", at=12.0)
    a = activity.of("p1")["a"]
    assert (a["error"], a["finished_at"], a["status"], a["message"]) == (error_json(ERROR), 12.0, "RETRYING", "boom")
    replica.feed(m.TimerElapsed("p1", 17.0), at=17.0)
    assert (a["attempt"], a["requested_at"], a["finished_at"], a["status"]) == (1, 17.0, None, "REQUESTED")


def test_a_limited_tasks_request_is_recorded_from_its_permit_request():
    activity, replica = watched(TaskActivity())
    replica.submit("p1", spec(task("a", 5, concurrency=2)), at=10.0)
    assert activity.of("p1")["a"]["args"] == [5] and activity.of("p1")["a"]["requested_at"] == 10.0


def test_the_activity_drops_the_least_recently_active_pipelines_past_max_tasks():
    activity, replica = watched(TaskActivity(max_tasks=3))
    replica.submit("p1", spec(task("a"), task("b")), at=1.0)
    replica.submit("p2", spec(task("a")), at=2.0)
    replica.succeed("p1", "a", 1, at=3.0)  # p1 asks for b: p1 is now the most recent
    replica.submit("p3", spec(task("a")), at=4.0)
    assert (activity.of("p1").keys(), activity.of("p2"), activity.of("p3").keys()) == ({"a", "b"}, {}, {"a"})
    activity.removed("p1")
    assert activity.of("p1") == {}
    replica.submit("p4", spec(task("a")), at=5.0)  # room again: p1's tasks no longer count
    replica.submit("p5", spec(task("a")), at=6.0)
    assert all(activity.of(p) for p in ("p3", "p4", "p5"))


def test_a_late_result_of_an_earlier_run_leaves_the_current_run_alone():
    activity, replica = watched(TaskActivity())
    replica.submit("p1", spec(task("a")), at=10.0)
    replica.feed(m.PipelineActionRequested("p1", "c1", m.Action.CANCEL), at=11.0)  # a still runs on its worker
    replica.submit("p1", spec(task("a")), at=12.0, run=2)
    replica.feed(m.TaskSucceeded("p1", 1, "a", 0, "stale"), at=13.0)
    assert replica.states["p1"].run == 2 and activity.of("p1")["a"].get("finished_at") is None


# -- the metrics -----------------------------------------------------------------------------------


def value(metrics: OrchestratorMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_task_runs_are_counted_by_task_and_what_happened_and_timed_from_request_to_outcome():
    metrics, replica = watched(OrchestratorMetrics(dict))
    replica.submit("p1", spec(task("a", retry=RETRY), task("b")), at=10.0)
    replica.fail("p1", "a", at=11.0)
    replica.feed(m.TimerElapsed("p1", 16.0), at=16.0)
    replica.succeed("p1", "a", 1, at=18.5)
    counted = {event: value(metrics, "kafka_tasks_tasks_total", task="m.a", event=event)
               for event in ("requested", "failed", "retried", "succeeded")}
    assert counted == {"requested": 2.0, "failed": 1.0, "retried": 1.0, "succeeded": 1.0}
    assert value(metrics, "kafka_tasks_tasks_total", task="m.b", event="requested") == 1.0
    assert value(metrics, "kafka_tasks_task_duration_seconds_count", task="m.a") == 2.0
    assert value(metrics, "kafka_tasks_task_duration_seconds_sum", task="m.a") == 1.0 + 2.5
    assert value(metrics, "kafka_tasks_task_duration_seconds_bucket", task="m.a", le="1.0") == 1.0


def test_a_finished_pipeline_is_timed_from_its_start_by_final_status():
    metrics, replica = watched(OrchestratorMetrics(dict))
    replica.submit("p1", spec(task("a")), at=10.0)
    replica.submit("p2", spec(task("a")), at=10.0)
    replica.succeed("p1", "a", 1, at=14.0)
    replica.fail("p2", "a", at=30.0)
    assert value(metrics, "kafka_tasks_pipeline_duration_seconds_sum", status="COMPLETED") == 4.0
    assert value(metrics, "kafka_tasks_pipeline_duration_seconds_sum", status="FAILED") == 20.0
    assert value(metrics, "kafka_tasks_pipeline_duration_seconds_count", status="FAILED") == 1.0


def test_runs_of_partitions_gone_elsewhere_are_not_timed():
    metrics, replica = watched(OrchestratorMetrics(dict))
    replica.submit("p1", spec(task("a")), at=10.0)
    metrics.forgotten()
    replica.succeed("p1", "a", 1, at=12.0)
    assert value(metrics, "kafka_tasks_tasks_total", task="m.a", event="succeeded") == 1.0
    assert value(metrics, "kafka_tasks_task_duration_seconds_count", task="m.a") is None


def test_asking_for_a_finished_pipelines_result_does_not_time_it_again():
    metrics, replica = watched(OrchestratorMetrics(dict))
    replica.submit("p1", spec(task("a")), at=10.0)
    replica.succeed("p1", "a", 1, at=14.0)
    replica.feed(m.PipelineActionRequested("p1", "q1", m.Action.RESULT, "replies"), at=500.0)
    assert value(metrics, "kafka_tasks_pipeline_duration_seconds_count", status="COMPLETED") == 1.0


def test_the_exposition_carries_the_pipelines_by_status_and_the_lag_of_this_scrape():
    index = PipelineIndex()
    metrics = OrchestratorMetrics(index.counts_by_status)
    replica = Replica(index, metrics)
    replica.submit("p1", spec(task("a")), at=10.0)
    replica.submit("p2", spec(task("a")), at=10.0)
    replica.succeed("p2", "a", 1, at=11.0)
    assert value(metrics, "kafka_tasks_pipelines", status="RUNNING") == 1.0
    assert value(metrics, "kafka_tasks_pipelines", status="COMPLETED") == 1.0

    def scrape(lag: dict) -> str:
        async def behind():
            return lag

        return asyncio.run(metrics.exposition(behind)).decode()

    text = scrape({("t-events", 0): 5, ("t-events", 3): 0})
    assert 'kafka_tasks_consumer_lag{partition="0",topic="t-events"} 5.0' in text
    assert 'kafka_tasks_consumer_lag{partition="3",topic="t-events"} 0.0' in text
    assert 'kafka_tasks_pipelines{status="RUNNING"} 1.0' in text
    text = scrape({("t-events", 3): 2})
    assert 'kafka_tasks_consumer_lag{partition="3",topic="t-events"} 2.0' in text
    assert 'partition="0"' not in text  # a partition no longer assigned is not reported


def test_tasks_skipped_while_the_pipeline_runs_show_as_skipped_at_once():
    from events.messages import TasksSkipped

    activity = TaskActivity()
    activity.folded(None, None, [TasksSkipped("p", 1, ("u1", "u2"))], 1.0)
    assert {uid: t["status"] for uid, t in activity.of("p").items()} == {"u1": "SKIPPED", "u2": "SKIPPED"}

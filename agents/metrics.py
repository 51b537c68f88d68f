"""Prometheus metrics of an orchestrator replica and of a worker, in their own registries.

The orchestrator's come from what it folds and decides (an Observer): every replica counts the
pipelines it owns, so sum them over replicas. After a crash a replica may count an event again
(it folds again from the last stored state): these are gauges of activity, not an audit trail.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily

from agents.observer import Observer
from events import messages as m

disable_created_metrics()  # the *_created series double what a scrape carries, for nothing we use

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_COUNTED = {"REQUESTED": "requested", "SUCCEEDED": "succeeded", "FAILED": "failed", "RETRYING": "retried"}
MAX_OPEN_RUNS = 200_000  # requested, not yet finished runs whose start time is kept


class OrchestratorMetrics(Observer):
    """What the orchestrator folds and decides, counted."""

    def __init__(self, counts_by_status: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.tasks = Counter(
            "kafka_tasks_tasks", "Task runs by task name and what happened: requested, succeeded, failed, retried",
            ["task", "event"], registry=self.registry,
        )
        self.task_seconds = Histogram(
            "kafka_tasks_task_duration_seconds", "From a task's request to its outcome, by task name",
            ["task"], buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self.pipeline_seconds = Histogram(
            "kafka_tasks_pipeline_duration_seconds", "From a pipeline's start to its end, by final status",
            ["status"], buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self.lag = _lag_gauge(self.registry, "Records not yet processed")
        self.registry.register(_PipelinesByStatus(counts_by_status))
        # pipeline id -> (run, uid, attempt) -> when requested: runs not finished yet. A pipeline's
        # go when it ends (a cancelled one's running tasks never report an outcome).
        self._requested_at: dict[str, dict[tuple[int, str, int], float]] = {}
        self._open = 0

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        for decision in decisions:
            if isinstance(decision, m.TaskStatusChanged) and decision.task_status in _COUNTED:
                self.tasks.labels(decision.task_name, _COUNTED[decision.task_status]).inc()
                run = (decision.run, decision.uid, decision.attempt)
                if decision.task_status == "REQUESTED":
                    if self._open < MAX_OPEN_RUNS:
                        self._requested_at.setdefault(decision.pipeline_id, {})[run] = at
                        self._open += 1
                elif decision.task_status in ("SUCCEEDED", "FAILED"):
                    started = self._requested_at.get(decision.pipeline_id, {}).pop(run, None)
                    if started is not None:
                        self._open -= 1
                        self.task_seconds.labels(decision.task_name).observe(max(at - started, 0.0))
            elif isinstance(decision, m.PipelineStatusChanged) and decision.status.is_finished:
                # The transition, once (a PipelineFinished is also re-sent to answer result queries).
                started = getattr(state, "started_at", None)
                if started is not None:
                    self.pipeline_seconds.labels(decision.status.name).observe(max(at - started, 0.0))
                self.removed(decision.pipeline_id)

    def forgotten(self) -> None:
        self._requested_at.clear()  # runs of partitions now elsewhere would never finish here
        self._open = 0

    def removed(self, pipeline_id: str) -> None:
        self._open -= len(self._requested_at.pop(pipeline_id, {}))

    async def exposition(self, lag: Callable[[], Awaitable[dict[tuple[str, int], int]]]) -> bytes:
        return _exposition(self.registry, self.lag, await lag())


class _PipelinesByStatus:
    """Pipelines in this replica's table by status, read at each scrape."""

    def __init__(self, counts_by_status: Callable[[], Any]) -> None:
        self.counts_by_status = counts_by_status

    def collect(self) -> Any:
        family = GaugeMetricFamily("kafka_tasks_pipelines", "Pipelines in this replica's table, by status", labels=["status"])
        for status, count in sorted(self.counts_by_status().items()):
            family.add_metric([status], count)
        yield family


class WorkerMetrics:
    """A worker's runs and its request topics' lag."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "kafka_tasks_worker_runs", "Task runs by task name and outcome: succeeded, failed",
            ["task", "outcome"], registry=self.registry,
        )
        self.run_seconds = Histogram(
            "kafka_tasks_worker_run_duration_seconds", "How long the task function ran, by task name",
            ["task"], buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self.lag = _lag_gauge(self.registry, "Requests not yet fetched")
        # (task name, outcome) -> its run counter and duration histogram: `labels()` looks them up
        # under a lock and checks the names each time, a few µs of every quick task.
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def ran(self, task_name: str, outcome: str, seconds: float) -> None:
        """A run of `task_name` ended in `outcome` (succeeded, failed) after `seconds`."""
        children = self._children.get((task_name, outcome))
        if children is None:
            children = self._children[(task_name, outcome)] = (
                self.runs.labels(task_name, outcome), self.run_seconds.labels(task_name),
            )
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self, lag: dict[tuple[str, int], int]) -> bytes:
        return _exposition(self.registry, self.lag, lag)


def _lag_gauge(registry: CollectorRegistry, what: str) -> Gauge:
    return Gauge("kafka_tasks_consumer_lag", f"{what}, by topic and partition (set at each scrape)",
                 ["topic", "partition"], registry=registry)


def _exposition(registry: CollectorRegistry, gauge: Gauge, lag: dict[tuple[str, int], int]) -> bytes:
    """The registry in Prometheus' text format, with the lag gauge set to `lag` (partitions no
    longer consumed here dropped)."""
    gauge.clear()
    for (topic, partition), behind in lag.items():
        gauge.labels(topic, str(partition)).set(behind)
    return generate_latest(registry)

"""The orchestrators' REST API, dashboard, metrics and probes, against two replicas and a worker on
the real broker; the dashboard in headless Chromium.

Requests go to either replica: one about a pipeline the other owns is forwarded there, lists are
gathered from both. Pipeline ids are picked so that each partition, hence each replica, has one.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.topics import partition_of
from tests.browser import Chromium, chromium_path
from tests.processes import Processes

pytestmark = pytest.mark.kafka

APP_ID = "web-api"
APP = "tests.integration.replica_app"
STEP, SLOW, TOTAL = f"{APP}.step", f"{APP}.slow", f"{APP}.total"
PARTITIONS = 4
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as failure:
        status, payload = failure.code, failure.read()
    except urllib.error.URLError as failure:  # not listening (yet)
        return 0, str(failure.reason)
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


def eventually(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


def ids_on_every_partition(prefix: str) -> list[str]:
    """One pipeline id per partition of the pipeline events topic (as every producer partitions)."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        candidate = f"{prefix}-{n}"
        found.setdefault(partition_of(candidate.encode(), PARTITIONS), candidate)
        n += 1
    return [found[p] for p in range(PARTITIONS)]


class Deployment:
    def __init__(self, broker: Any, workdir: Path) -> None:
        self.ports = {"a": free_port(), "b": free_port(), "worker": free_port()}
        self.connection = connection = ["--app-id", APP_ID, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
        self.processes = Processes(workdir, env={**os.environ, "REPLICA_APP_ID": APP_ID})
        for name in ("a", "b"):
            self.processes.spawn(name, "orchestrator", "-A", APP, *connection, "--state-dir", str(workdir / name),
                                 "--web-port", str(self.ports[name]))
        self.processes.spawn("worker", "worker", "-A", APP, *connection, "--web-port", str(self.ports["worker"]))

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def pipeline(self, pipeline_id: str, via: str = "a") -> dict[str, Any]:
        status, body = http("GET", self.url(via, f"/api/pipelines/{pipeline_id}"))
        assert status in (200, 404, 503), (status, body)
        return body if status == 200 else {}

    def finished(self, pipeline_id: str, via: str = "a") -> dict[str, Any]:
        return eventually(
            lambda: (p := self.pipeline(pipeline_id, via)) and p["status"] not in ("PENDING", "RUNNING", "PAUSED", "CANCELLING") and p,
            120, f"pipeline {pipeline_id} to finish",
        )


@pytest.fixture(scope="module")
def web(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment(broker, tmp_path_factory.mktemp("web"))
    try:
        for name in ("a", "b", "worker"):
            eventually(lambda name=name: http("GET", deployment.url(name, "/ready"))[0] == 200
                       if deployment.processes.check_alive() is None else False, 120, f"{name} ready")
        # Both replicas in the group, each owning part of the partitions: a pipeline on each runs.
        for pipeline_id in ids_on_every_partition("warm-up"):
            assert http("POST", deployment.url("a", "/api/pipelines"), {"task": STEP, "args": [1], "id": pipeline_id})[0] == 202
        for pipeline_id in ids_on_every_partition("warm-up"):
            deployment.finished(pipeline_id)
        yield deployment
    finally:
        deployment.processes.stop_all()


def fan_out(width: int, task: str = STEP) -> dict[str, Any]:
    return {"chain": [{"parallel": [{"task": task, "args": [i]} for i in range(width)]}, {"task": TOTAL}]}


def tasks_of(steps: list[Any]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        if step["type"] == "task":
            found.append(step)
        else:
            for branch in step["branches"]:
                found.extend(tasks_of(branch))
    return found


def test_a_json_pipeline_runs_and_either_replica_answers_for_it(web: Deployment) -> None:
    ids = ids_on_every_partition("sum")
    for pipeline_id in ids:
        status, body = http("POST", web.url("b", "/api/pipelines"), {**fan_out(5), "id": pipeline_id})
        assert (status, body["pipeline_id"]) == (202, pipeline_id)
    for pipeline_id in ids:
        seen_from_a, seen_from_b = web.finished(pipeline_id, "a"), web.finished(pipeline_id, "b")
        assert seen_from_a == seen_from_b  # one owner answered both
        assert seen_from_a["status"] == "COMPLETED" and seen_from_a["result"] == sum(range(1, 6))
        group, last = seen_from_a["steps"]
        assert group["type"] == "parallel" and len(group["branches"]) == 5
        assert [t["args"] for t in tasks_of([group])] == [[i] for i in range(5)]
        assert [t["result"] for t in tasks_of([group])] == [i + 1 for i in range(5)]
        assert last["task_name"] == TOTAL and last["args"] == [[1, 2, 3, 4, 5]]
        assert {t["status"] for t in tasks_of(seen_from_a["steps"])} == {"SUCCEEDED"}
        assert all(t["finished_at"] >= t["requested_at"] for t in tasks_of(seen_from_a["steps"]))
        assert http("GET", web.url("b", f"/api/pipelines/{pipeline_id}/result")) == (
            200, {"pipeline_id": pipeline_id, "status": "COMPLETED", "result": 15})
        trimmed = http("GET", web.url("b", f"/api/pipelines/{pipeline_id}?max_branches=2"))[1]
        assert (len(trimmed["steps"][0]["branches"]), trimmed["steps"][0]["hidden_branches"]) == (2, 3)
        assert trimmed["task_counts"] == {"SUCCEEDED": 6}  # every task counted, shown or not


def test_lists_gather_every_replica_and_filter(web: Deployment) -> None:
    ids = ids_on_every_partition("listed")
    for pipeline_id in ids:
        http("POST", web.url("a", "/api/pipelines"), {"task": STEP, "args": [0], "id": pipeline_id})
    for pipeline_id in ids:
        web.finished(pipeline_id)
    for via in ("a", "b"):
        status, body = http("GET", web.url(via, "/api/pipelines?limit=1000"))
        assert status == 200 and body["incomplete"] == []
        assert set(ids) <= {p["pipeline_id"] for p in body["pipelines"]}
        started = [p["started_at"] for p in body["pipelines"]]
        assert started == sorted(started, reverse=True)
    listed = lambda query: {p["pipeline_id"] for p in http("GET", web.url("a", f"/api/pipelines?{query}"))[1]["pipelines"]}  # noqa: E731
    assert set(ids) <= listed(f"status=COMPLETED&task={STEP}&limit=1000")
    assert not set(ids) & listed(f"task={SLOW}&limit=1000")
    assert not listed(f"status=FAILED,CANCELLED&task={STEP}") & set(ids)
    assert listed(f"since={time.time() + 3600}") == set()
    assert len(listed("limit=2")) == 2


def test_cancel_pause_and_unpause_from_the_api(web: Deployment) -> None:
    cancelled, paused = ids_on_every_partition("act")[:2]
    # Two slow steps (3 s each): the actions arrive while it runs, even on a loaded machine.
    slow_chain = {"chain": [{"task": SLOW, "args": [1]}, {"task": SLOW}, {"task": STEP}, {"task": STEP}]}
    for pipeline_id in (cancelled, paused):
        http("POST", web.url("a", "/api/pipelines"), {**slow_chain, "id": pipeline_id})
    for pipeline_id in (cancelled, paused):
        eventually(lambda pid=pipeline_id: web.pipeline(pid).get("status") == "RUNNING", 60, "running")
    status, answer = http("POST", web.url("b", f"/api/pipelines/{cancelled}/cancel"))
    assert (status, answer["accepted"]) == (200, True), answer
    status, answer = http("POST", web.url("b", f"/api/pipelines/{paused}/pause"))
    assert (status, answer["accepted"]) == (200, True), answer
    assert web.finished(cancelled)["status"] == "CANCELLED"
    eventually(lambda: web.pipeline(paused)["status"] == "PAUSED", 30, "paused")
    time.sleep(7)  # both slow steps ended meanwhile: a paused pipeline sends nothing further
    assert web.pipeline(paused)["status"] == "PAUSED"
    assert http("POST", web.url("a", f"/api/pipelines/{paused}/unpause"))[0] == 200
    done = web.finished(paused)
    assert (done["status"], done["result"]) == ("COMPLETED", 3)
    status, answer = http("POST", web.url("a", f"/api/pipelines/{paused}/cancel"))
    assert status == 409 and answer["accepted"] is False and "COMPLETED" in answer["message"]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "/api/pipelines", b"{not json", 400, "not JSON"),
    ("POST", "/api/pipelines", b"[1, 2]", 400, "expected a JSON object"),
    ("POST", "/api/pipelines", json.dumps({"task": "no.such.task"}).encode(), 400, "no.such.task is not a task"),
    ("POST", "/api/pipelines", json.dumps({"parallel": [{"task": STEP, "args": 1}]}).encode(), 400, "pipeline.parallel[0].args"),
    ("POST", "/api/pipelines", json.dumps({"task": STEP, "args": [2**70]}).encode(), 400, "64 bits"),
    ("POST", "/api/pipelines", json.dumps({"chain": []}).encode(), 400, "non-empty list"),
    ("GET", "/api/pipelines?status=DONE", None, 400, "unknown status DONE"),
    ("GET", "/api/pipelines?limit=0", None, 400, "between 1 and 1000"),
    ("GET", "/api/pipelines?since=yesterday", None, 400, "ISO 8601"),
    ("GET", "/api/pipelines/never-submitted", None, 404, "unknown"),
    ("GET", "/api/pipelines/never-submitted?max_branches=many", None, 400, "max_branches"),
    ("GET", "/api/pipelines/never-submitted/result", None, 404, "unknown"),
    ("POST", "/api/pipelines/never-submitted/cancel", None, 404, "unknown"),
    ("POST", "/api/pipelines/never-submitted/explode", None, 404, "unknown action"),
    ("GET", "/dashboard/../web.py", None, 404, ""),
])
def test_malformed_requests_get_a_4xx_that_says_what_is_wrong(web: Deployment, method: str, path: str, body: bytes | None,
                                                              status: int, says: str) -> None:
    for via in ("a", "b"):
        answer = http(method, web.url(via, path), raw=body)
        assert answer[0] == status, answer
        assert says in str(answer[1]), answer


def test_a_result_is_refused_until_the_pipeline_finishes(web: Deployment) -> None:
    pipeline_id = ids_on_every_partition("early")[1]
    http("POST", web.url("a", "/api/pipelines"), {"chain": [{"task": SLOW, "args": [7]}, {"task": SLOW}], "id": pipeline_id})
    eventually(lambda: web.pipeline(pipeline_id).get("status") == "RUNNING", 60, "running")
    status, answer = http("GET", web.url("b", f"/api/pipelines/{pipeline_id}/result"))
    assert status == 409 and "RUNNING" in answer["error"]
    web.finished(pipeline_id)
    assert http("GET", web.url("b", f"/api/pipelines/{pipeline_id}/result"))[1]["result"] == 7


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in series for k, v in labels.items()) or not wanted:
                total += float(value)
    return total


def test_metrics_and_probes_of_replicas_and_worker(web: Deployment) -> None:
    pipeline_id = ids_on_every_partition("measured")[2]
    http("POST", web.url("a", "/api/pipelines"), {**fan_out(3), "id": pipeline_id})
    web.finished(pipeline_id)
    texts = [http("GET", web.url(name, "/metrics"))[1] for name in ("a", "b")]
    succeeded = sum(metric(t, "kafka_tasks_tasks_total", task=STEP, event="succeeded") for t in texts)
    requested = sum(metric(t, "kafka_tasks_tasks_total", task=STEP, event="requested") for t in texts)
    assert succeeded >= 3 and requested >= succeeded
    assert sum(metric(t, "kafka_tasks_task_duration_seconds_count", task=STEP) for t in texts) >= 3
    assert sum(metric(t, "kafka_tasks_pipeline_duration_seconds_count", status="COMPLETED") for t in texts) >= 1
    assert sum(metric(t, "kafka_tasks_pipelines", status="COMPLETED") for t in texts) >= 1
    lag_series = [line for t in texts for line in t.splitlines() if line.startswith("kafka_tasks_consumer_lag{")]
    assert len(lag_series) == PARTITIONS and all(f"{APP_ID}.pipeline-events" in line for line in lag_series)
    worker = http("GET", web.url("worker", "/metrics"))[1]
    assert metric(worker, "kafka_tasks_worker_runs_total", task=STEP, outcome="succeeded") >= 3
    assert f'topic="{APP_ID}.requests.default"' in worker
    for name in ("a", "b", "worker"):
        assert http("GET", web.url(name, "/health")) == (200, {"status": "ok"})
        assert http("GET", web.url(name, "/ready"))[1]["ready"] is True


def test_the_openapi_document_lists_the_api(web: Deployment) -> None:
    status, document = http("GET", web.url("a", "/openapi.json"))
    assert status == 200 and document["openapi"].startswith("3.")
    assert {"/api/pipelines", "/api/pipelines/{pipeline_id}", "/api/pipelines/{pipeline_id}/cancel", "/api/schedules",
            "/metrics", "/health", "/ready"} <= set(document["paths"])


def test_schedules_are_listed_from_every_replica(web: Deployment) -> None:
    def cli(*args: str) -> None:  # replica_app declares "every-2s"; adding it is the CLI's job
        done = subprocess.run([sys.executable, "-m", "streams.cli", "schedule", *args, *web.connection],
                              capture_output=True, text=True, timeout=120, env=web.processes.env)
        assert done.returncode == 0, done.stderr

    cli("add", "-A", APP)
    schedules = eventually(lambda: http("GET", web.url("b", "/api/schedules"))[1]["schedules"], 60, "the schedule listed")
    assert [(s["name"], s["cron"], s["status"]) for s in schedules] == [("every-2s", "* * * * * */2", "ACTIVE")]
    assert schedules[0]["tasks"] == [STEP]
    cli("remove", "every-2s")
    eventually(lambda: http("GET", web.url("a", "/api/schedules"))[1]["schedules"][0]["status"] == "REMOVED", 60, "removed")


# -- the dashboard, in a browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "the dashboard test needs Debian's chromium (apt-get install chromium, as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_the_dashboard_draws_a_running_fan_out_and_cancels_a_pipeline(web: Deployment, chromium: str) -> None:
    fanned, cancelled = ids_on_every_partition("shown")[:2]
    SCREENSHOTS.mkdir(exist_ok=True)

    async def drive() -> None:
        async with Chromium(chromium) as browser:
            # The page first, then the pipeline: a browser starting slowly must not miss it running.
            await browser.goto(web.url("b", f"/dashboard#/pipelines/{fanned}"))
            await browser.wait_for("!!document.querySelector('h2')", 60, "the page")
            assert http("POST", web.url("a", "/api/pipelines"), {**fan_out(4, SLOW), "id": fanned})[0] == 202
            # Live: the page shows the branches running, then every step's final status.
            await browser.wait_for("document.querySelectorAll('.task[data-status=RUNNING]').length >= 1", 60, "a running step")
            await browser.wait_for("!!document.querySelector('#pipeline-status [data-status=COMPLETED]')", 60, "COMPLETED")
            await browser.wait_for("document.querySelectorAll('.task[data-status=SUCCEEDED]').length == 5", 10, "5 steps")
            nodes = await browser.evaluate(
                "[...document.querySelectorAll('.task')].map(n => [n.dataset.status, n.title, n.closest('.parallel') !== null])")
            assert sorted(nodes) == sorted([["SUCCEEDED", SLOW, True]] * 4 + [["SUCCEEDED", TOTAL, False]])
            assert await browser.evaluate("document.querySelector('#pipeline-result').textContent") == "6"
            await browser.evaluate("document.querySelector('.task[data-status=SUCCEEDED]').click()")
            await browser.wait_for("!!document.querySelector('#task-result')", 10, "a step's details")
            await browser.screenshot(SCREENSHOTS / "dashboard-pipeline.png")

            await browser.goto(web.url("a", f"/dashboard#/pipelines/{cancelled}"))
            await browser.wait_for("!!document.querySelector('h2')", 60, "the page")
            http("POST", web.url("a", "/api/pipelines"), {"chain": [{"task": SLOW, "args": [1]}, {"task": SLOW}], "id": cancelled})
            await browser.wait_for("!!document.querySelector('#pipeline-status [data-status=RUNNING]')", 60, "RUNNING")
            await browser.wait_for("!document.querySelector('#cancel').disabled", 10, "cancel enabled")
            await browser.evaluate("document.querySelector('#cancel').click()")
            await browser.wait_for("!!document.querySelector('#pipeline-status [data-status=CANCELLED]')", 60, "CANCELLED")
            await browser.screenshot(SCREENSHOTS / "dashboard-cancelled.png")

            await browser.goto(web.url("a", "/dashboard#/"))
            await browser.wait_for(f"!!document.querySelector('tr[data-pipeline=\"{cancelled}\"] [data-status=CANCELLED]')", 30, "listed")
            await browser.screenshot(SCREENSHOTS / "dashboard-list.png")

    asyncio.run(drive())
    assert web.pipeline(cancelled)["status"] == "CANCELLED"

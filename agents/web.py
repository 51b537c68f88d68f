"""The orchestrator's HTTP side, on faust's web server: REST API, dashboard, metrics, probes.

A request about one pipeline goes to the replica that owns its partition (where its state and
recent activity are): any replica takes it and forwards it once, at most. Lists are gathered from
every replica. Submissions and actions are events on the pipeline events topic like any client's:
nothing here changes a state directly. The OpenAPI document (streams/openapi.py) lists it all.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from faust import web

from agents.metrics import CONTENT_TYPE, OrchestratorMetrics
from agents.observer import Observer
from agents.pipeline_index import PipelineIndex
from agents.task_activity import TaskActivity
from events import messages as m
from events.codec import Codec
from events.errors import KafkaTasksError
from events.state import PipelineState
from events.status import PipelineStatus
from streams.json_pipelines import pipeline_from_json
from streams.openapi import openapi_document
from streams.pipeline_view import pipeline_json, result_json
from streams.settings import Settings
from streams.topics import Topics

log = logging.getLogger("kafka_tasks.web")

DASHBOARD = Path(__file__).parent / "dashboard"
FORWARDED = "X-Kafka-Tasks-Forwarded"  # set on a request one replica passes to another
ACTION_WAIT_S = 10.0
MAX_BRANCHES = 1000  # of a parallel group shown by default (?max_branches=N)  # how long an action request waits for the owner to apply it
_ACTIONS = {"cancel": m.Action.CANCEL, "pause": m.Action.PAUSE, "unpause": m.Action.UNPAUSE}
_STATIC_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css", ".png": "image/png"}


class BadRequest(Exception):
    """A malformed request: answered with 400 and the message."""


class ActionAnswers(Observer):
    """Hands each action the orchestrator applied to the HTTP request waiting for it."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[m.PipelineActionApplied]] = {}

    def expect(self, action_id: str) -> asyncio.Future[m.PipelineActionApplied]:
        future: asyncio.Future[m.PipelineActionApplied] = asyncio.get_running_loop().create_future()
        self.waiting[action_id] = future
        return future

    def folded(self, event: Any, state: Any, decisions: list[Any], at: float) -> None:
        for decision in decisions:
            if isinstance(decision, m.PipelineActionApplied):
                future = self.waiting.pop(decision.action_id, None)
                if future is not None and not future.done():
                    future.set_result(decision)


def install_web(
    app: Any,
    settings: Settings,
    orchestrator: Any,
    index: PipelineIndex,
    activity: TaskActivity,
    metrics: OrchestratorMetrics,
    answers: ActionAnswers,
    tasks: Any = None,
) -> None:
    """Add the pages to the orchestrator's faust app. `orchestrator`: its OrchestratorView;
    `tasks`: the KafkaTasks app, if known (submissions then name only its tasks)."""
    topics = Topics(settings.app_id)
    codec = Codec()
    own_url = settings.web_url

    async def produce(event: Any) -> None:
        # Keyed by pipeline id, partitioned as every client partitions (murmur2).
        await app.producer.send_and_wait(topics.pipeline_events, event.pipeline_id.encode(), codec.encode(event), None, None, None)

    async def forward_to_owner(request: Any, pipeline_id: str) -> Any | None:
        """The owner's answer, or None when this replica owns the pipeline (or was asked by another)."""
        if request.headers.get(FORWARDED):
            return None
        try:
            owner = str(app.router.key_store("pipelines", pipeline_id.encode()))
        except KeyError:
            return error(503, "no replica owns this pipeline's partition yet (a rebalance?): try again shortly")
        if owner.rstrip("/") == own_url:
            return None
        url = owner.rstrip("/") + str(request.rel_url)
        try:
            async with app.http_client.request(
                request.method, url, data=await request.read(), headers={FORWARDED: "1", "Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=ACTION_WAIT_S + 5),
            ) as response:
                return web_response(await response.read(), response.status, response.content_type)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return error(503, f"the replica that owns this pipeline ({owner}) did not answer: {exc!r}; try again shortly")

    async def gather(path: str, request: Any) -> tuple[list[Any], list[str]]:
        """Every replica's local answer to `path` (with this request's query), and the replicas that failed."""
        hosts = {str(url).rstrip("/") for url in app.router.table_metadata("pipelines")} | {own_url}
        answers_: list[Any] = []
        missing: list[str] = []

        async def ask(host: str) -> None:
            if host == own_url:
                answers_.append(await local_answer(path, request.query))
                return
            try:
                async with app.http_client.get(f"{host}{path}", params=request.query,
                                               timeout=aiohttp.ClientTimeout(total=10)) as response:
                    response.raise_for_status()
                    answers_.append(await response.json())
            except Exception as exc:  # a replica going away: the list says it is incomplete
                log.warning("listing from %s failed: %r", host, exc)
                missing.append(host)

        await asyncio.gather(*(ask(host) for host in sorted(hosts)))
        return answers_, missing

    async def local_answer(path: str, query: Any) -> Any:
        if path == "/api/local/pipelines":
            return [s.as_json() for s in index.pipelines(**list_filters(query))]
        return index.schedules()

    # -- responses -----------------------------------------------------------------------------

    def web_response(body: bytes, status: int, content_type: str = "application/json") -> Any:
        # As a header: aiohttp's content_type argument refuses parameters (Prometheus' version).
        return app.web.bytes(body, status=status, headers={"Content-Type": content_type})

    def reply(value: Any, status: int = 200) -> Any:
        return web_response(json.dumps(value).encode(), status)

    def error(status: int, message: str) -> Any:
        return reply({"error": message, "status": status}, status)

    def handled(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Malformed input is a 400 that says what is wrong; nothing a client sends makes a 500."""

        async def run(view: Any, request: Any, **kwargs: Any) -> Any:
            try:
                return await handler(request, **kwargs)
            except NotFound as exc:
                return error(404, str(exc))
            except (BadRequest, KafkaTasksError) as exc:
                return error(400, str(exc))
            except Exception as exc:
                log.exception("%s %s failed", request.method, request.rel_url)
                return error(500, f"the orchestrator failed to answer: {exc!r}")

        return run

    def page(path: str, **methods: Callable[..., Awaitable[Any]]) -> None:
        name = "view" + re.sub(r"\W+", "_", path)  # faust names routes after their views: one each
        view = type(name, (web.View,), {method: handled(fn) for method, fn in methods.items()})
        app.page(path)(view)

    async def body_json(request: Any) -> Any:
        raw = await request.read()
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON ({exc}): send a JSON object with Content-Type application/json") from None

    # -- probes and metrics --------------------------------------------------------------------

    async def health(request: Any) -> Any:
        return reply({"status": "ok"})

    async def ready(request: Any) -> Any:
        if orchestrator.ready():
            return reply({"ready": True})
        return reply({"ready": False, "reason": "no partitions assigned yet, or a rebalance, a table recovery or the pass that follows it is under way"}, 503)

    async def metrics_page(request: Any) -> Any:
        return web_response(await metrics.exposition(orchestrator.lag), 200, CONTENT_TYPE)

    async def openapi(request: Any) -> Any:
        return reply(openapi_document(own_url))

    page("/health", get=health)
    page("/ready", get=ready)
    page("/metrics", get=metrics_page)
    page("/openapi.json", get=openapi)

    # -- pipelines -----------------------------------------------------------------------------

    async def submit(request: Any) -> Any:
        pipeline = pipeline_from_json(await body_json(request), tasks)
        event = m.PipelineSubmitted(pipeline.id, str(uuid.uuid4()), pipeline.to_spec())
        await produce(event)
        return reply({"pipeline_id": pipeline.id, "status": "SUBMITTED", "url": f"/api/pipelines/{pipeline.id}"}, 202)

    async def list_pipelines(request: Any) -> Any:
        filters = list_filters(request.query)  # checked here: a bad filter is the caller's 400, once
        found, missing = await gather("/api/local/pipelines", request)
        merged = sorted((p for part in found for p in part), key=lambda p: p["started_at"] or 0.0, reverse=True)
        return reply({"pipelines": merged[: filters["limit"]], "incomplete": missing})

    async def local_pipelines(request: Any) -> Any:
        return reply(await local_answer("/api/local/pipelines", request.query))

    async def one_pipeline(request: Any, pipeline_id: str) -> Any:
        forwarded = await forward_to_owner(request, pipeline_id)
        if forwarded is not None:
            return forwarded
        raw = request.query.get("max_branches", str(MAX_BRANCHES))
        if not raw.isdigit():
            raise BadRequest(f"max_branches must be a whole number, got {raw!r}")
        return reply(pipeline_json(known(pipeline_id), activity.of(pipeline_id), int(raw)))

    async def pipeline_result(request: Any, pipeline_id: str) -> Any:
        forwarded = await forward_to_owner(request, pipeline_id)
        if forwarded is not None:
            return forwarded
        state = known(pipeline_id)
        if not state.status.is_finished:
            return error(409, f"pipeline {pipeline_id} is {state.status.name}: no result yet")
        return reply(result_json(state))

    async def act(request: Any, pipeline_id: str, action: str) -> Any:
        if action not in _ACTIONS:
            return error(404, f"unknown action {action!r}: one of {', '.join(_ACTIONS)}")
        forwarded = await forward_to_owner(request, pipeline_id)
        if forwarded is not None:
            return forwarded
        known(pipeline_id)
        action_id = str(uuid.uuid4())
        answer = answers.expect(action_id)
        await produce(m.PipelineActionRequested(pipeline_id, action_id, _ACTIONS[action]))
        try:
            applied = await asyncio.wait_for(answer, ACTION_WAIT_S)
        except TimeoutError:
            answers.waiting.pop(action_id, None)
            return reply({"pipeline_id": pipeline_id, "action": action, "accepted": None,
                          "message": "sent; not applied yet (the pipeline's partition may be moving): check its status"}, 202)
        body = {"pipeline_id": pipeline_id, "action": action, "accepted": applied.accepted, "message": applied.message}
        return reply(body, 200 if applied.accepted else 409)

    def known(pipeline_id: str) -> PipelineState:
        state = orchestrator.state_of(pipeline_id)
        if not isinstance(state, PipelineState):
            raise NotFound(
                f"pipeline {pipeline_id} is unknown: never submitted, or it finished longer than the retention "
                f"({settings.finished_retention_s:.0f} s) ago (its reply stays on {topics.replies})"
            )
        return state

    page("/api/pipelines", get=list_pipelines, post=submit)
    page("/api/local/pipelines", get=local_pipelines)
    page("/api/pipelines/{pipeline_id}", get=one_pipeline)
    page("/api/pipelines/{pipeline_id}/result", get=pipeline_result)
    page("/api/pipelines/{pipeline_id}/{action}", post=act)

    # -- schedules -----------------------------------------------------------------------------

    async def list_schedules(request: Any) -> Any:
        found, missing = await gather("/api/local/schedules", request)
        return reply({"schedules": sorted((s for part in found for s in part), key=lambda s: s["name"]), "incomplete": missing})

    async def local_schedules(request: Any) -> Any:
        return reply(index.schedules())

    page("/api/schedules", get=list_schedules)
    page("/api/local/schedules", get=local_schedules)

    # -- dashboard -----------------------------------------------------------------------------

    async def dashboard(request: Any, name: str = "index.html") -> Any:
        path = DASHBOARD / name
        if path.suffix not in _STATIC_TYPES or path.parent != DASHBOARD or not path.is_file():
            return error(404, f"no such file: {name}")
        return web_response(path.read_bytes(), 200, _STATIC_TYPES[path.suffix])

    page("/dashboard", get=dashboard)
    page("/dashboard/{name}", get=dashboard)


class NotFound(BadRequest):
    """Answered with 404."""


def list_filters(query: Any) -> dict[str, Any]:
    """The list endpoint's query: status (comma-separated), task, since, until (epoch seconds or
    ISO 8601), limit (1-1000, default 100)."""
    filters: dict[str, Any] = {"limit": 100}
    if query.get("status"):
        filters["status"] = {s.strip().upper() for s in query["status"].split(",") if s.strip()}
        unknown = filters["status"] - {s.name for s in PipelineStatus}
        if unknown:
            raise BadRequest(f"unknown status {', '.join(sorted(unknown))}: use {', '.join(s.name for s in PipelineStatus)}")
    if query.get("task"):
        filters["task_name"] = query["task"]
    for name in ("since", "until"):
        if query.get(name):
            filters[name] = _time(query[name], name)
    if query.get("limit"):
        try:
            filters["limit"] = int(query["limit"])
        except ValueError:
            raise BadRequest(f"limit must be a whole number, got {query['limit']!r}") from None
        if not 1 <= filters["limit"] <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
    return filters


def _time(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be epoch seconds or an ISO 8601 time, got {raw!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()

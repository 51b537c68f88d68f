"""The OpenAPI 3 document of the orchestrator's REST API (agents/web.py), served at /openapi.json."""
from __future__ import annotations

from typing import Any

from events.status import PipelineStatus


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


_PIPELINE_ID = {"name": "pipeline_id", "in": "path", "required": True, "schema": {"type": "string"}}
_STATUSES = [s.name for s in PipelineStatus]


def openapi_document(server_url: str) -> dict[str, Any]:
    step = {"$ref": "#/components/schemas/Step"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Kafka Tasks orchestrator API",
            "version": "1",
            "description": "Any orchestrator replica answers; requests about one pipeline are forwarded to the "
                           "replica that owns it. Submissions and actions become events on the pipeline events topic.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/api/pipelines": {
                "post": {
                    "summary": "Submit a pipeline described as JSON",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submission"}}}},
                    "responses": {**_ok("Submitted: poll its URL for status and result", "Submitted", "202"),
                                  "400": _error("Malformed pipeline: the message names the part")},
                },
                "get": {
                    "summary": "List pipelines, newest first, from every replica",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string"}, "description": f"comma-separated: {', '.join(_STATUSES)}"},
                        {"name": "task", "in": "query", "schema": {"type": "string"}, "description": "pipelines with a task of this name"},
                        {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "started at or after (epoch seconds or ISO 8601)"},
                        {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "started before"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    ],
                    "responses": {**_ok("Pipelines; `incomplete` names replicas that did not answer", "PipelineList"),
                                  "400": _error("A bad filter")},
                },
            },
            "/api/pipelines/{pipeline_id}": {
                "get": {
                    "summary": "A pipeline's status, steps (as a tree) and result or error",
                    "parameters": [_PIPELINE_ID],
                    "responses": {**_ok("The pipeline", "Pipeline"), "404": _error("Unknown (or expired) pipeline"),
                                  "503": _error("Its partition has no owner right now")},
                },
            },
            "/api/pipelines/{pipeline_id}/result": {
                "get": {
                    "summary": "A finished pipeline's result or error",
                    "parameters": [_PIPELINE_ID],
                    "responses": {**_ok("The outcome", "Outcome"), "404": _error("Unknown pipeline"), "409": _error("Not finished yet")},
                },
            },
            **{
                f"/api/pipelines/{{pipeline_id}}/{action}": {
                    "post": {
                        "summary": f"{action.capitalize()} a pipeline",
                        "parameters": [_PIPELINE_ID],
                        "responses": {
                            **_ok("Applied", "ActionAnswer"),
                            **_ok("Sent, not applied within 10 s: check the status", "ActionAnswer", "202"),
                            "404": _error("Unknown pipeline"),
                            "409": _error("Refused (e.g. the pipeline has finished): the message says why"),
                        },
                    }
                }
                for action in ("cancel", "pause", "unpause")
            },
            "/api/schedules": {"get": {"summary": "CRON schedules, from every replica", "responses": _ok("Schedules", "ScheduleList")}},
            "/metrics": {"get": {"summary": "Prometheus metrics of this replica", "responses": {"200": {"description": "text format 0.0.4"}}}},
            "/health": {"get": {"summary": "Liveness: the process serves requests", "responses": {"200": {"description": "alive"}}}},
            "/ready": {"get": {"summary": "Readiness: partitions assigned, no rebalance or recovery under way",
                               "responses": {"200": {"description": "ready"}, "503": {"description": "not yet"}}}},
            "/dashboard": {"get": {"summary": "The web dashboard", "responses": {"200": {"description": "HTML"}}}},
        },
        "components": {
            "schemas": {
                "Step": {
                    "description": "Exactly one of task, chain or parallel",
                    "type": "object",
                    "properties": {
                        "task": {"type": "string", "description": "a registered task name, module.function"},
                        "args": {"type": "array", "items": {}},
                        "kwargs": {"type": "object"},
                        "chain": {"type": "array", "items": step, "minItems": 1, "description": "one after the other; each gets the previous result"},
                        "parallel": {"type": "array", "items": step, "description": "side by side; the result is the list of their results"},
                        "max_parallelism": {"type": "integer", "minimum": 1},
                        "num_stages": {"type": "integer", "minimum": 1},
                        "return_exceptions": {"type": "boolean"},
                    },
                },
                "Submission": {
                    "allOf": [step, {"type": "object", "properties": {"id": {"type": "string", "description": "a pipeline id of your choosing"}}}],
                    "example": {"chain": [{"parallel": [{"task": "examples.stocks.load_timeseries", "args": ["AAPL"]}]},
                                          {"task": "examples.stocks.compute_average"}]},
                },
                "Submitted": {"type": "object", "properties": {"pipeline_id": {"type": "string"}, "status": {"type": "string"}, "url": {"type": "string"}}},
                "Summary": {
                    "type": "object",
                    "properties": {
                        "pipeline_id": {"type": "string"}, "status": {"type": "string", "enum": _STATUSES},
                        "started_at": {"type": "number", "nullable": True}, "finished_at": {"type": "number", "nullable": True},
                        "tasks": {"type": "integer"}, "task_names": {"type": "array", "items": {"type": "string"}},
                        "root_pipeline_id": {"type": "string"},
                    },
                },
                "PipelineList": {"type": "object", "properties": {
                    "pipelines": {"type": "array", "items": {"$ref": "#/components/schemas/Summary"}},
                    "incomplete": {"type": "array", "items": {"type": "string"}}}},
                "Pipeline": {
                    "type": "object",
                    "description": "steps: a list of task nodes ({type: task, uid, name, status, args, kwargs, attempt, "
                                   "requested_at, started_at, finished_at, result, error}) and parallel nodes "
                                   "({type: parallel, group_id, branches: [[step, ...], ...]})",
                    "properties": {
                        "pipeline_id": {"type": "string"}, "status": {"type": "string", "enum": _STATUSES},
                        "started_at": {"type": "number", "nullable": True}, "finished_at": {"type": "number", "nullable": True},
                        "steps": {"type": "array", "items": {"type": "object"}}, "task_counts": {"type": "object"},
                        "result": {}, "error": {"$ref": "#/components/schemas/TaskError"},
                    },
                },
                "Outcome": {"type": "object", "properties": {"pipeline_id": {"type": "string"}, "status": {"type": "string"},
                                                             "result": {}, "error": {"$ref": "#/components/schemas/TaskError"}}},
                "TaskError": {"type": "object", "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "stacktrace": {"type": "string"}}},
                "ActionAnswer": {"type": "object", "properties": {"pipeline_id": {"type": "string"}, "action": {"type": "string"},
                                                                  "accepted": {"type": "boolean", "nullable": True}, "message": {"type": "string"}}},
                "ScheduleList": {"type": "object", "properties": {"schedules": {"type": "array", "items": {"type": "object"}},
                                                                  "incomplete": {"type": "array", "items": {"type": "string"}}}},
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
            }
        },
    }

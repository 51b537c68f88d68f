"""A worker's HTTP endpoints: /health (the loop answers), /ready (it holds partitions of its request
topic), /metrics (its runs, and its request topics' lag). For the compose file and Kubernetes probes."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from agents.metrics import CONTENT_TYPE, WorkerMetrics


async def serve_worker_web(bind: str, port: int, consumer: Any, metrics: WorkerMetrics) -> web.AppRunner:
    """Start serving; the caller cleans the returned runner up."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        if consumer.assignment():
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": "no request partitions assigned yet"}, status=503)

    async def metrics_page(request: web.Request) -> web.Response:
        lag = await asyncio.to_thread(_lag, consumer)  # watermark calls block
        return web.Response(body=metrics.exposition(lag), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.add_routes([web.get("/health", health), web.get("/ready", ready), web.get("/metrics", metrics_page)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind, port).start()
    return runner


def _lag(consumer: Any) -> dict[tuple[str, int], int]:
    assigned = consumer.assignment()
    behind: dict[tuple[str, int], int] = {}
    positions = consumer.position(assigned) if assigned else []
    # A partition not fetched from since it was assigned has no position yet: its committed offset.
    unknown = [p for p in positions if p.offset < 0]
    committed = {(p.topic, p.partition): p.offset for p in consumer.committed(unknown, timeout=5)} if unknown else {}
    for position in positions:
        _, high = consumer.get_watermark_offsets(position, timeout=2, cached=False)
        at = position.offset if position.offset >= 0 else committed.get((position.topic, position.partition), -1)
        behind[(position.topic, position.partition)] = max(high - max(at, 0), 0)
    return behind

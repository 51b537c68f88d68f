"""`kafka-tasks status`: the REST API's answers (agents/web.py) as text for a terminal."""
from __future__ import annotations

import json
import time
from typing import Any

SYMBOL = {"SUCCEEDED": "✔", "FAILED": "✘", "RUNNING": "▶", "PENDING": "·", "SKIPPED": "-", "RETRYING": "↻",
          "REVERTED": "↶", "REVERT_FAILED": "✘"}


def pipelines_table(pipelines: list[dict[str, Any]], incomplete: list[str]) -> str:
    rows = [("PIPELINE", "STATUS", "STARTED", "DURATION", "TASKS")]
    for p in pipelines:
        rows.append((p["pipeline_id"], p["status"], _when(p["started_at"]), _duration(p["started_at"], p["finished_at"]),
                     str(p["tasks"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    if not pipelines:
        lines.append("(no pipelines)")
    if incomplete:
        lines.append(f"not answering (their pipelines are missing): {', '.join(incomplete)}")
    return "\n".join(lines)


def pipeline_tree(pipeline: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {status.lower()}" for status, n in sorted(pipeline["task_counts"].items()))
    lines = [f"pipeline {pipeline['pipeline_id']}: {pipeline['status']}  "
             f"({_duration(pipeline['started_at'], pipeline['finished_at'])}; {counts})"]
    _steps(pipeline["steps"], "", lines)
    if "result" in pipeline:
        lines.append("result: " + json.dumps(pipeline["result"]))
    if pipeline.get("error"):
        lines.append(f"error: {pipeline['error']['type']}: {pipeline['error']['message']}")
    return "\n".join(lines)


def _steps(steps: list[dict[str, Any]], indent: str, lines: list[str]) -> None:
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        branch, more = ("└─ ", "   ") if last else ("├─ ", "│  ")
        if step["type"] == "task":
            timing = _duration(step.get("requested_at"), step.get("finished_at")) if step.get("finished_at") else ""
            error = f"  {step['error']['type']}: {step['error']['message']}" if step.get("error") else ""
            lines.append(f"{indent}{branch}{SYMBOL.get(step['status'], '?')} {step['name']}  {step['status']}"
                         f"{'  ' + timing if timing else ''}{error}")
        else:
            lines.append(f"{indent}{branch}in parallel ({len(step['branches'])} branches)")
            for j, chain in enumerate(step["branches"]):
                last_branch = j == len(step["branches"]) - 1
                lines.append(f"{indent}{more}{'└─' if last_branch else '├─'} branch {j + 1}")
                _steps(chain, indent + more + ("   " if last_branch else "│  "), lines)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _duration(start: float | None, end: float | None) -> str:
    if not start:
        return "-"
    seconds = (end or time.time()) - start
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"

"""`kafka-tasks submit --wait`'s progress bar: tasks finished of the pipeline's total, from the
status topic's TaskStatusChanged events (the client's listeners)."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from events.spec import PipelineSpec, is_builtin, iter_tasks

FINAL = {"SUCCEEDED", "FAILED", "SKIPPED", "REVERTED", "REVERT_FAILED"}
WIDTH = 30


class Progress:
    """Counts the pipeline's tasks that reached a final status and draws a bar on `out`: redrawn
    in place on a terminal, a line at most every few seconds otherwise (a CI log)."""

    def __init__(self, pipeline_id: str, spec: PipelineSpec, out: TextIO = sys.stderr) -> None:
        self.pipeline_id = pipeline_id
        # The engine's own steps (a staged group's flatten, a graph's merges) report nothing.
        self.total = sum(1 for t in iter_tasks(spec) if not is_builtin(t.task_name))
        self.out = out
        self.done: set[str] = set()
        self.failed = 0
        self.lock = threading.Lock()
        self.last_line = 0.0
        self.interactive = out.isatty()

    def on_task(self, event: Any) -> None:
        """A listener callback (the client's reader thread)."""
        if event.pipeline_id != self.pipeline_id or event.task_status not in FINAL or event.uid in self.done:
            return
        with self.lock:
            self.done.add(event.uid)
            self.failed += event.task_status in ("FAILED", "REVERT_FAILED")
            self.draw()

    def line(self) -> str:
        done = min(len(self.done), self.total)
        filled = WIDTH * done // self.total if self.total else WIDTH
        failed = f", {self.failed} failed" if self.failed else ""
        return f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total} tasks{failed}"

    def draw(self, final: bool = False) -> None:
        if self.interactive:
            self.out.write("\r" + self.line() + ("\n" if final else ""))
        elif final or time.monotonic() - self.last_line >= 2.0:
            self.out.write(self.line() + "\n")
            self.last_line = time.monotonic()
        self.out.flush()

    def finish(self) -> None:
        with self.lock:
            self.draw(final=True)

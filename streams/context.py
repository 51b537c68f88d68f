"""TaskContext: what a task bound with `with_context=True` receives as its first argument."""
from __future__ import annotations

from dataclasses import dataclass

from events.messages import TaskRequested


@dataclass(frozen=True)
class TaskContext:
    request: TaskRequested

    @property
    def task_name(self) -> str:
        return self.request.task_name

    @property
    def task_uid(self) -> str:
        return self.request.uid

    @property
    def attempt(self) -> int:
        """0 for the first run, n for the n-th retry."""
        return self.request.attempt

    def get_task_id(self) -> str:
        return self.request.request_id

    def get_pipeline_id(self) -> str:
        return self.request.pipeline_id

    def get_root_pipeline_id(self) -> str:
        return self.request.root_pipeline_id or self.request.pipeline_id

    def get_display_name(self) -> str:
        return self.request.display_name or self.request.task_name

    def get_worker_name(self) -> str | None:
        return self.request.worker_name

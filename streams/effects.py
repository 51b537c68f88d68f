"""Effects a task can return alongside its result."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PausePipeline:
    results: tuple[Any, ...]


def with_pause_pipeline(*results: Any) -> PausePipeline:
    """Return `results` and pause the pipeline after this task (unpause to continue)."""
    return PausePipeline(results)

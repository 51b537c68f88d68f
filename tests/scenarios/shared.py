"""Counters and captures the catalogue's tasks write, readable by the test process even when the
tasks ran in a worker process: each key is a file in a directory both processes know.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

ENV = "KAFKA_TASKS_SCENARIO_SHARED"
_fallback = Path(tempfile.mkdtemp(prefix="kafka-tasks-scenarios-"))


def directory() -> Path:
    # The Kafka session fixture exports ENV before it starts the worker; in-process runs use a
    # temporary directory of their own.
    path = Path(os.environ.get(ENV) or _fallback)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file(kind: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(key))
    return directory() / f"{kind}-{safe}"


class Counters:
    """`increment(key)`; `counters[key]`, `key in counters`, `counters.get(key, 0)` read."""

    def increment(self, key: str) -> int:
        with open(_file("calls", key), "a") as f:  # one small O_APPEND write: atomic
            f.write(".\n")
        return self[key]

    def __getitem__(self, key: str) -> int:
        try:
            return len(_file("calls", key).read_text().splitlines())
        except FileNotFoundError:
            raise KeyError(key) from None

    def get(self, key: str, default: int = 0) -> int:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return _file("calls", str(key)).exists()


class Captures:
    """`captures[key] = value` in a task, `captures[key]` in a test."""

    def __setitem__(self, key: str, value: Any) -> None:
        path = _file("captured", key)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(value))
        tmp.replace(path)

    def __getitem__(self, key: str) -> Any:
        try:
            return pickle.loads(_file("captured", key).read_bytes())
        except FileNotFoundError:
            raise KeyError(key) from None


class Journal:
    """`journal.append(key, line)` in a task, `journal[key]` (the lines, in order) in a test."""

    def append(self, key: str, line: str) -> None:
        with open(_file("journal", key), "a") as f:  # one small O_APPEND write: atomic
            f.write(line.replace("\n", " ") + "\n")

    def __getitem__(self, key: str) -> list[str]:
        try:
            return _file("journal", key).read_text().splitlines()
        except FileNotFoundError:
            return []

"""The layout is part of the design: the pure core does no I/O, the public API is pinned."""
from __future__ import annotations

import ast
from pathlib import Path

import streams

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = {"faust", "aiokafka", "confluent_kafka", "rocksdict", "kafka", "socket", "asyncio", "streams", "agents"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_events_imports_no_io_library_and_nothing_above_it():
    for path in (ROOT / "events").glob("*.py"):
        assert not imported_modules(path) & IO_LIBRARIES, path.name


def test_public_api_is_pinned():
    assert sorted(streams.__all__) == [
        "Action",
        "ActionRejectedError",
        "CommandFailedError",
        "DecodeError",
        "ForEach",
        "KafkaTasks",
        "KafkaTasksError",
        "ParameterizedForEach",
        "PipelineBuilder",
        "PipelineDefinitionError",
        "PipelineStatus",
        "RetryPolicy",
        "TaskContext",
        "TaskError",
        "TaskException",
        "TaskTimeoutError",
        "Times",
        "UnknownTaskError",
        "UnsupportedValueError",
        "graph",
        "in_parallel",
        "node",
        "subflow",
        "with_pause_pipeline",
    ]


def test_every_error_derives_from_the_root():
    for name in streams.__all__:
        obj = getattr(streams, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, streams.KafkaTasksError), name

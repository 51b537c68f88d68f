"""`kafka-tasks schemas --register URL` against a real Confluent-compatible registry (Apicurio
Registry, tests/registry.py): every version of every framed record under its subject, readable
by anyone who asks the registry, and the registry itself guarding the evolution."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import fastavro
import pytest

from events.codec import Codec
from events.messages import TaskSucceeded
from schemas import HERE, load
from streams.schema_registry import RegistryError, SchemaRegistry, framed_names, register_all, subject, versions
from tests.registry import cache_dir, running_registry

ROOT = Path(__file__).resolve().parents[2]

# As the Apache Kafka tests (tests/integration/conftest.py): skipped, not failed, on a machine
# without a JDK, or without Maven before the registry is built.
pytestmark = pytest.mark.skipif(
    not shutil.which("java") or not (shutil.which("mvn") or (cache_dir() / "complete.stamp").exists()),
    reason="the schema registry needs a JDK, and Maven to build it once",
)


@pytest.fixture(scope="module")
def registry() -> Iterator[SchemaRegistry]:
    with running_registry() as url:
        yield SchemaRegistry(url)


def test_register_puts_every_version_of_every_record_under_its_subject(registry: SchemaRegistry) -> None:
    done = subprocess.run([sys.executable, "-m", "streams.cli", "schemas", "--register", registry.url],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kafka_tasks.TaskRequested" in done.stdout and "registry id" in done.stdout
    expected = {subject(name): versions(name) for name in framed_names()}
    assert set(registry.subjects()) >= set(expected)
    # Every schema a record may have been written with (this release's and earlier ones') is there.
    writers = [s for s in load().writers.values() if s.name in framed_names()]
    assert sorted(v[1] for ours in expected.values() for v in ours) == sorted(s.schema_id for s in writers)
    for name_subject, ours in expected.items():
        assert registry.compatibility(name_subject) == "BACKWARD_TRANSITIVE"
        theirs = registry.versions(name_subject)
        assert len(theirs) == sum(1 for s in writers if subject(s.name) == name_subject), name_subject
        for (_, _, schema), registry_version in zip(ours, theirs, strict=True):
            assert registry.schema(name_subject, registry_version) == schema, (name_subject, registry_version)
    # Someone who knows only the registry reads a record Kafka Tasks wrote: the registered schema
    # is the writer's schema, byte for byte of the body after the 5-byte framing.
    event = TaskSucceeded("p-1", 2, "u-1", 1, {"price": 12.5, "tags": ["a", "b"]}, None)
    body = Codec().encode(event)[5:]
    schema = fastavro.parse_schema(registry.schema(subject("TaskSucceeded")))
    record = fastavro.schemaless_reader(io.BytesIO(body), schema, None)
    assert (record["pipeline_id"], record["run"], record["uid"], record["attempt"]) == ("p-1", 2, "u-1", 1)
    assert record["child"] is None and record["pause"] is False


def test_registering_again_changes_nothing(registry: SchemaRegistry) -> None:
    first = register_all(registry)
    counts = {s: len(registry.versions(s)) for s in {r.subject for r in first}}
    assert register_all(registry) == first
    assert {s: len(registry.versions(s)) for s in counts} == counts


def test_the_registry_refuses_a_field_retyped_without_a_default(registry: SchemaRegistry, tmp_path: Path) -> None:
    directory = tmp_path / "schemas"
    shutil.copytree(HERE, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    # (SubmissionRejected: no other record holds it, so its change is the only one to refuse.)
    changed = json.loads((HERE / "SubmissionRejected.v1.avsc").read_text())
    changed["kafka_tasks.schema_id"] = 915
    changed["fields"] = [{**f, "type": "int"} if f["name"] == "submission_id" else f for f in changed["fields"]]
    (directory / "SubmissionRejected.v2.avsc").write_text(json.dumps(changed))
    with pytest.raises(RegistryError) as refused:
        register_all(registry, directory=directory)
    message = str(refused.value)
    assert "SubmissionRejected v2 (id 915) under kafka_tasks.SubmissionRejected" in message
    assert "HTTP 409" in message  # Confluent's answer to an incompatible schema
    assert len(registry.versions(subject("SubmissionRejected"))) == len(versions("SubmissionRejected"))  # nothing added

"""Registering the event schemas in a Confluent-compatible schema registry.

`kafka-tasks schemas --register URL`. Subjects follow Confluent's RecordNameStrategy: one subject
per framed record, named by its full name (`kafka_tasks.TaskRequested`), the same in every
deployment and for every app id. Each subject gets every version Kafka Tasks ever wrote (those of
earlier releases from `schemas/history/`, oldest first, then the current one), each standalone
(the records it references written out), under a compatibility level set first, so the registry
itself checks the evolution. BACKWARD_TRANSITIVE by default: every version reads all earlier ones,
which is what folding years of log takes. Not FULL: 0.1.0's PipelineStatus enum has no default, so
its readers cannot read the statuses added in 0.2 (tests/unit/test_schema_compatibility.py knows
the same exception), and a registry asked for FULL_TRANSITIVE rightly refuses PipelineFinished v2.

Registering is idempotent: a schema the subject already has keeps its version and id.

The registry assigns its own ids. Records on the topics carry Kafka Tasks' fixed ids
(`kafka_tasks.schema_id`, docs/topics.md), so a reader decodes them with the schemas, by those ids,
not by asking the registry for them; `register` prints both.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from events.errors import KafkaTasksError
from schemas import HERE, Schemas, load, releases, standalone

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE")


class RegistryError(KafkaTasksError, RuntimeError):
    """The registry refused a request or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class Registered:
    subject: str
    version: int  # Kafka Tasks' version of the record (the N of Name.vN.avsc)
    schema_id: int  # Kafka Tasks' fixed id, the one in the records' framing
    registry_id: int  # the id the registry gave it


def framed_names() -> list[str]:
    """The records that travel framed on their own: the events and a sub-flow's PipelineSpec."""
    from events.codec import EVENT_TYPES

    return sorted([*EVENT_TYPES, "PipelineSpec"])


def subject(name: str) -> str:
    return f"kafka_tasks.{name}"


def versions(name: str, directory: Path = HERE) -> list[tuple[int, int, Any]]:
    """(version, fixed id, standalone schema) of every version of record `name` ever released,
    oldest first; each standalone within its own release's schemas."""
    found: dict[int, tuple[int, Any]] = {}
    sets: Iterable[Schemas] = [*releases(directory).values(), load(directory)]
    for schemas in sets:
        schema = schemas.by_name.get(name)
        if schema is not None:
            found.setdefault(schema.version, (schema.schema_id, standalone(name, schemas)))
    return [(version, *found[version]) for version in sorted(found)]


class SchemaRegistry:
    """The few calls of the Confluent Schema Registry REST API that registering needs."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise RegistryError(f"{method} {path}: HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RegistryError(
                f"cannot reach the schema registry at {self.url} ({reason}): check the URL (a Confluent "
                "registry's root, e.g. http://host:8081, or Apicurio's http://host:8080/apis/ccompat/v7)"
            ) from None

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects"))

    def set_compatibility(self, subject: str, level: str) -> None:
        self._call("PUT", f"/config/{subject}", {"compatibility": level})

    def compatibility(self, subject: str) -> str:
        answer = self._call("GET", f"/config/{subject}")
        return str(answer.get("compatibilityLevel") or answer.get("compatibility"))

    def register(self, subject: str, schema: Any) -> int:
        return int(self._call("POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)})["id"])

    def versions(self, subject: str) -> list[int]:
        return [int(v) for v in self._call("GET", f"/subjects/{subject}/versions")]

    def schema(self, subject: str, version: int | str = "latest") -> Any:
        return json.loads(self._call("GET", f"/subjects/{subject}/versions/{version}")["schema"])


def register_all(registry: SchemaRegistry, compatibility: str = "BACKWARD_TRANSITIVE",
                 directory: Path = HERE) -> list[Registered]:
    """Register every version of every framed record under its subject, the compatibility level
    set first. Stops at the first refusal (RegistryError naming the subject and version)."""
    if compatibility not in LEVELS:
        raise ValueError(f"compatibility must be one of {', '.join(LEVELS)}, not {compatibility!r}")
    registered = []
    for name in framed_names():
        name_subject = subject(name)
        registry.set_compatibility(name_subject, compatibility)
        for version, schema_id, schema in versions(name, directory):
            try:
                registry_id = registry.register(name_subject, schema)
            except RegistryError as error:
                raise RegistryError(
                    f"the registry refused {name} v{version} (id {schema_id}) under {name_subject} "
                    f"({compatibility}): {error}"
                ) from None
            registered.append(Registered(name_subject, version, schema_id, registry_id))
    return registered

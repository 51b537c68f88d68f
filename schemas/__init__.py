"""The Avro schemas, one `.avsc` file per record, versioned by file name (`Name.vN.avsc`).

Each file carries a fixed `kafka_tasks.schema_id`: the id written into the Confluent wire framing
when no schema registry is configured, stable across releases, so any consumer can map an id to a
file in this folder.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import UnknownType

HERE = Path(__file__).resolve().parent
NAMESPACE = "kafka_tasks"
_FILE = re.compile(r"^(?P<name>[A-Za-z]+)\.v(?P<version>\d+)\.avsc$")


@dataclass(frozen=True)
class Schema:
    name: str  # short name, e.g. TaskRequested
    version: int
    schema_id: int
    path: Path
    parsed: Any  # fastavro's parsed schema
    raw: Any = None  # the file's JSON, references to other files' records by name

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"


@dataclass(frozen=True)
class Schemas:
    by_name: dict[str, Schema]  # the current (newest) version of each record
    by_id: dict[int, Schema]
    # Every schema a record may have been written with: the current ones and those of earlier
    # releases (schemas/history/<release>/), by id. The codec reads a record with the schema its
    # id names; the fields added since take their defaults there (events/codec.py).
    writers: dict[int, Schema] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Schema:
        return self.by_name[name]


@cache
def load(directory: Path = HERE) -> Schemas:
    """Parse every schema file (newest version of each name), resolving references between them."""
    newest: dict[str, tuple[int, Path]] = {}
    for path in directory.glob("*.avsc"):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"schema file {path.name} must be named Record.vN.avsc")
        name, version = match["name"], int(match["version"])
        if name not in newest or version > newest[name][0]:
            newest[name] = (version, path)
    named: dict[str, Any] = {}
    pending = {name: (version, path, json.loads(path.read_text())) for name, (version, path) in newest.items()}
    loaded: dict[str, Schema] = {}
    # Files reference each other by name; parse whatever has its references ready until done.
    while pending:
        progress = False
        for name, (version, path, raw) in sorted(pending.items()):
            try:
                parsed = fastavro.parse_schema(raw, named_schemas=named)
            except UnknownType:
                continue
            loaded[name] = Schema(name, version, int(raw["kafka_tasks.schema_id"]), path, parsed, raw)
            progress = True
        for name in loaded:
            pending.pop(name, None)
        if not progress:
            raise ValueError(f"schemas with unresolvable references: {sorted(pending)}")
    by_id: dict[int, Schema] = {}
    for schema in loaded.values():
        if schema.schema_id in by_id:
            raise ValueError(f"schema id {schema.schema_id} is used twice")
        by_id[schema.schema_id] = schema
    writers = dict(by_id)
    for release in sorted((directory / "history").glob("*/")):
        for schema in load(release).by_id.values():
            # An id names one schema forever: a changed schema is a new version with a new id.
            writers.setdefault(schema.schema_id, schema)
    return Schemas(loaded, by_id, writers)


def releases(directory: Path = HERE) -> dict[str, Schemas]:
    """The schemas of each earlier release, by release (schemas/history/<release>/)."""
    return {path.name: load(path) for path in sorted((directory / "history").glob("*/"))}


def standalone(name: str, schemas: Schemas | None = None) -> Any:
    """Schema `name` with every record it references from other files written out where first
    used: one JSON document any Avro library parses alone (for other languages' code generators
    and for a schema registry)."""
    schemas = schemas or load()
    defined: set[str] = set()

    def full(type_name: str) -> str:
        return type_name if "." in type_name else f"{NAMESPACE}.{type_name}"

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            short = node.removeprefix(f"{NAMESPACE}.")
            if node.startswith(f"{NAMESPACE}.") and node not in defined and short in schemas.by_name:
                return walk(copy.deepcopy(schemas[short].raw))  # first use: the definition itself
            return node
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed") and "name" in node:
                defined.add(full(node["name"]))
            return {key: (walk(value) if key in ("type", "items", "values", "fields") else value)
                    for key, value in node.items()}
        return node

    return walk(copy.deepcopy(schemas[name].raw))

"""The Avro schemas, one `.avsc` file per record, versioned by file name (`Name.vN.avsc`).

Each file carries a fixed `kafka_tasks.schema_id`: the id written into the Confluent wire framing
when no schema registry is configured, stable across releases, so any consumer can map an id to a
file in this folder.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
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

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"


@dataclass(frozen=True)
class Schemas:
    by_name: dict[str, Schema]  # the current (newest) version of each record
    by_id: dict[int, Schema]

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
            loaded[name] = Schema(name, version, int(raw["kafka_tasks.schema_id"]), path, parsed)
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
    return Schemas(loaded, by_id)

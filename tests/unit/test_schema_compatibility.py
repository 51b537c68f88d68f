"""Every schema stays compatible with the previous release's (schemas/history/<release>/), both
ways, by Avro schema resolution: records an older release wrote are read with today's schema
(old writer / new reader), and today's records are read with the older schema (new writer / old
reader, as a client of that release with a schema registry would). Fails when a field is removed
or retyped without a default."""
from __future__ import annotations

import io
import random
from typing import Any

import fastavro
import pytest

from schemas import load, releases

SAMPLES_PER_SCHEMA = 25
# Known, accepted breaks, by release: what its readers cannot read and why.
# 0.1.0's PipelineStatus enum has no default, so its readers cannot read the statuses added in
# 0.2 (REVERTING, REVERTED, REVERT_FAILED); the enum has a default since, for later additions.
FORWARD_ENUM_LIMITS = {"0.1.0": {"kafka_tasks.PipelineStatus"}}
PRIMITIVES = {"null": None, "boolean": True, "int": 7, "long": 1 << 40, "float": 1.5, "double": 2.25,
              "bytes": b"\x00raw", "string": "text"}


def sample(schema: Any, named: dict[str, Any], rng: random.Random, enums: dict[str, list[str]], depth: int = 0) -> Any:
    """A record valid for `schema` (fastavro's parsed form), recursion bounded, union branches
    and enum symbols picked at random."""
    if isinstance(schema, str):
        return PRIMITIVES[schema] if schema in PRIMITIVES else sample(named[schema], named, rng, enums, depth)
    if isinstance(schema, list):
        shallow = [s for s in schema if isinstance(s, str) and s in PRIMITIVES]
        branch = rng.choice(shallow if depth > 3 and shallow else schema)
        value = sample(branch, named, rng, enums, depth + 1)
        named_branch = branch if isinstance(branch, str) else branch.get("name") if isinstance(branch, dict) else None
        if named_branch and named_branch not in PRIMITIVES and (named.get(named_branch, branch) or {}).get("type") == "record":
            return (named_branch, value)  # fastavro's notation for a record branch of a union
        return value
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: sample(f["type"], named, rng, enums, depth + 1) for f in schema["fields"]}
    if kind == "enum":
        return rng.choice(enums.get(schema["name"], schema["symbols"]))
    if kind == "array":
        return [sample(schema["items"], named, rng, enums, depth + 1) for _ in range(0 if depth > 3 else rng.randint(0, 2))]
    if kind == "map":
        return {f"k{i}": sample(schema["values"], named, rng, enums, depth + 1) for i in range(0 if depth > 3 else rng.randint(0, 2))}
    if kind in PRIMITIVES:
        return PRIMITIVES[kind]
    raise AssertionError(f"no sample for {schema!r}")


def through(writer: Any, reader: Any, records: list[Any]) -> None:
    for record in records:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, record)
        buffer.seek(0)
        fastavro.schemaless_reader(buffer, writer, reader)  # raises if the reader cannot resolve it


CASES = [(release, name) for release, old in releases().items() for name in sorted(old.by_name)
         if name in load().by_name]


@pytest.mark.parametrize(("release", "name"), CASES, ids=[f"{r}:{n}" for r, n in CASES])
def test_schema_resolves_both_ways_with_the_previous_release(release: str, name: str) -> None:
    old, new = releases()[release][name].parsed, load()[name].parsed
    rng = random.Random(name)
    old_named, new_named = old.get("__named_schemas", {}), new.get("__named_schemas", {})
    through(old, new, [sample(old, old_named, rng, {}) for _ in range(SAMPLES_PER_SCHEMA)])  # backward
    # Forward: today's records, but for enums a release's readers are known not to read in full.
    old_enums = {**old_named, old.get("name"): old} if isinstance(old, dict) else old_named
    limits = {e: old_enums[e]["symbols"] for e in FORWARD_ENUM_LIMITS.get(release, ()) if e in old_enums}
    through(new, old, [sample(new, new_named, rng, limits) for _ in range(SAMPLES_PER_SCHEMA)])


def test_every_release_in_the_history_is_checked() -> None:
    assert "0.1.0" in releases() and len(CASES) >= 20

"""Avro's binary encoding, compiled once per schema: fastavro's bytes and values, for the small
records the engine sends by the ten thousand at about half of fastavro's cost.

fastavro's `schemaless_writer` and `schemaless_reader` set up each call anew (the schema's named
types gathered again, a stream object) and walk the schema on every call: each field's type
looked up again, each union resolved by validating the value against its branches (recursively,
for our `Value`). In a 10,000-wide fan-out that was about a fifth of the orchestrator's CPU.
Here each schema becomes a tree of closures, once: writing a `TaskRequested` took 27 µs, now
15; a `TaskStatusChanged` 10, now 5.5; reading a `TaskRequested` 24, now 17.5.

They take exactly the shapes `events/codec.py` builds: dicts for records, `(name, record)` for
a named branch of a union, lists, dicts for maps, scalars of the exact built-in types. Anything
else raises `Unsupported`, and the codec hands that record to fastavro, which encodes it as it
always did or says what is wrong with it. Reading gives what `schemaless_reader(...,
return_record_name=True, return_record_name_override=True)` gives; bytes this reader cannot read
go to fastavro too, which reads them or raises its own error. tests/unit/test_avro.py holds both
directions to fastavro's results, on every sample event and on generated ones.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from fastavro.const import AVRO_TYPES

Writer = Callable[[Any, bytearray], None]
Reader = Callable[[bytes, int], tuple[Any, int]]
# A union branch a value may go to: its index, a check on the value (None: any), its writer.
Branch = tuple[int, Callable[[Any], bool] | None, Writer]

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_MISSING = object()


class Unsupported(Exception):
    """A value outside the shapes compiled for: fastavro takes the record instead."""


# -- writing ------------------------------------------------------------------------------------


def write_long(n: int, out: bytearray) -> None:
    """Zig-zag, then base-128 little-endian: Avro's int and long."""
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _integer(bounds: tuple[int, int]) -> Writer:
    low, high = bounds

    def write(datum: Any, out: bytearray) -> None:
        if type(datum) is not int or not low <= datum <= high:
            raise Unsupported
        write_long(datum, out)

    return write


def _string(datum: Any, out: bytearray) -> None:
    if type(datum) is not str:
        raise Unsupported
    encoded = datum.encode()
    write_long(len(encoded), out)
    out += encoded


def _bytes(datum: Any, out: bytearray) -> None:
    if type(datum) is not bytes:
        raise Unsupported
    write_long(len(datum), out)
    out += datum


def _boolean(datum: Any, out: bytearray) -> None:
    if type(datum) is not bool:
        raise Unsupported
    out.append(1 if datum else 0)


def _null(datum: Any, out: bytearray) -> None:
    if datum is not None:
        raise Unsupported


def _real(packer: struct.Struct) -> Writer:
    def write(datum: Any, out: bytearray) -> None:
        if type(datum) is not float and type(datum) is not int:  # fastavro: float(value)
            raise Unsupported
        out += packer.pack(datum)

    return write


_PRIMITIVE_WRITERS: dict[str, Writer] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer(_INT_RANGE),
    "long": _integer(_LONG_RANGE),
    "float": _real(_FLOAT),
    "double": _real(_DOUBLE),
    "string": _string,
    "bytes": _bytes,
}


class _Compiler:
    """Compiles the schemas of one parsed schema's world (its named types), each once."""

    def __init__(self, named: dict[str, Any]) -> None:
        self.named = named
        self.named_writers: dict[str, Writer] = {}
        self.named_readers: dict[str, Reader] = {}

    # writers

    def writer(self, schema: Any) -> Writer:
        if isinstance(schema, str):
            if schema in _PRIMITIVE_WRITERS:
                return _PRIMITIVE_WRITERS[schema]
            return self._named_writer(schema)
        if isinstance(schema, list):
            return self._union_writer(schema)
        kind = schema["type"]
        if kind == "record":
            return self._record_writer(schema)
        if kind == "enum":
            return _enum_writer(schema)
        if kind == "array":
            return _array_writer(self.writer(schema["items"]))
        if kind == "map":
            return _map_writer(self.writer(schema["values"]))
        if kind in _PRIMITIVE_WRITERS and "logicalType" not in schema:
            return _PRIMITIVE_WRITERS[kind]
        raise Unsupported(f"no compiled writer for {kind}")

    def _named_writer(self, name: str) -> Writer:
        # A named type may refer to itself (Value holds Values): compiled once. References from
        # inside its own definition go through the slot; later ones get the writer itself.
        if name not in self.named_writers:
            slot: list[Writer] = []
            self.named_writers[name] = lambda datum, out: slot[0](datum, out)
            slot.append(self.writer(self.named[name]))
            self.named_writers[name] = slot[0]
        return self.named_writers[name]

    def _record_writer(self, schema: dict[str, Any]) -> Writer:
        plan = []
        for field in schema["fields"]:
            if "default" in field:
                absent = field["default"]
            elif isinstance(field["type"], list) and "null" in field["type"]:
                absent = None  # fastavro writes null for a missing nullable field
            else:
                absent = _MISSING
            plan.append((field["name"], self.writer(field["type"]), absent))
        fields = tuple(plan)

        def write(datum: Any, out: bytearray) -> None:
            if type(datum) is not dict:
                raise Unsupported
            for name, write_field, absent in fields:
                value = datum.get(name, absent)
                if value is _MISSING:
                    raise Unsupported
                write_field(value, out)

        return write

    def _union_writer(self, branches: list[Any]) -> Writer:
        """The branch fastavro would pick, by the value's type (see `_union_plan`)."""
        by_name: dict[str, tuple[int, Writer]] = {}
        writers = [self.writer(branch) for branch in branches]
        for index, branch in enumerate(branches):
            by_name.setdefault(_branch_name(branch), (index, writers[index]))
        plan = _union_plan(branches, writers, self.named)

        def write(datum: Any, out: bytearray) -> None:
            kind = type(datum)
            if kind is tuple:  # fastavro's tuple notation: (branch name, value)
                if len(datum) != 2 or datum[0] not in by_name:
                    raise Unsupported
                index, write_branch = by_name[datum[0]]
                write_long(index, out)
                write_branch(datum[1], out)
                return
            for index, accepts, write_branch in plan.get(kind, ()):
                if accepts is None or accepts(datum):
                    write_long(index, out)
                    write_branch(datum, out)
                    return
            raise Unsupported

        return write


def _branch_name(branch: Any) -> str:
    """The name fastavro's tuple notation selects a branch by."""
    if isinstance(branch, dict):
        return branch["name"] if branch["type"] in ("record", "enum", "fixed", "error") else branch["type"]
    if isinstance(branch, list):
        return "union"
    return branch


def _resolve(branch: Any, named: dict[str, Any]) -> Any:
    """A branch's schema, a reference to a named type looked up."""
    return named[branch] if isinstance(branch, str) and branch not in AVRO_TYPES else branch


def _kind(branch: Any, named: dict[str, Any]) -> str:
    resolved = _resolve(branch, named)
    if isinstance(resolved, dict):
        return resolved["type"]
    if isinstance(resolved, list):
        return "union"
    return resolved


def _union_plan(branches: list[Any], writers: list[Writer], named: dict[str, Any]) -> dict[type, list[Branch]]:
    """Per exact Python type, the branches fastavro's `write_union` could pick for a value of it,
    in its order of preference, each with a check on the value (None: always). It takes the first
    branch whose validation passes, except that a double is preferred to a float and a map to a
    record. Where its choice needs a deep validation (array, map, record), the first such branch
    is written without one: a value that does not fit it makes the write raise Unsupported, and
    fastavro decides (it may go on to a later branch)."""
    plan: dict[type, list[Branch]] = {}
    kinds = [_kind(branch, named) for branch in branches]

    def first(kind: str) -> int | None:
        return next((i for i, k in enumerate(kinds) if k == kind), None)

    if (i := first("null")) is not None:
        plan[type(None)] = [(i, None, writers[i])]
    if (i := first("boolean")) is not None:
        plan[bool] = [(i, None, writers[i])]
    strings: list[Branch] = []
    for i, k in enumerate(kinds):
        if k == "string":
            strings.append((i, None, writers[i]))
            break
        if k == "enum":
            symbols = frozenset(_resolve(branches[i], named)["symbols"])
            strings.append((i, symbols.__contains__, writers[i]))
    if strings:
        plan[str] = strings
    if (i := first("bytes")) is not None and all(k not in ("array", "fixed") for k in kinds[:i]):
        plan[bytes] = [(i, None, writers[i])]
    reals = [i for i, k in enumerate(kinds) if k in ("float", "double")]
    if reals:
        real = first("double")
        real = reals[0] if real is None else real
        plan[float] = [(real, None, writers[real])]
    integers: list[Branch] = []
    for i, k in enumerate(kinds):
        if k in ("int", "long"):
            integers.append((i, _within(_INT_RANGE if k == "int" else _LONG_RANGE), writers[i]))
        elif k in ("float", "double"):
            double = first("double") if k == "float" else i
            target = double if double is not None and double > i else i
            integers.append((target, None, writers[target]))
            break
    if integers:
        plan[int] = integers
    if (i := first("array")) is not None:
        plan[list] = [(i, None, writers[i])]
    maps = first("map")
    records = [i for i, k in enumerate(kinds) if k == "record"]
    # (A dict with a "-type" key names its branch in fastavro: left to fastavro.)
    if maps is not None:
        plan[dict] = [(maps, lambda v: "-type" not in v, writers[maps])]
    elif len(records) == 1:
        plan[dict] = [(records[0], lambda v: "-type" not in v, writers[records[0]])]
    return plan


def _within(bounds: tuple[int, int]) -> Callable[[Any], bool]:
    low, high = bounds
    return lambda value: bool(low <= value <= high)


def _enum_writer(schema: dict[str, Any]) -> Writer:
    index = {symbol: i for i, symbol in enumerate(schema["symbols"])}

    def write(datum: Any, out: bytearray) -> None:
        position = index.get(datum) if type(datum) is str else None
        if position is None:
            raise Unsupported
        write_long(position, out)

    return write


def _array_writer(write_item: Writer) -> Writer:
    def write(datum: Any, out: bytearray) -> None:
        if type(datum) is not list and type(datum) is not tuple:
            raise Unsupported
        if datum:
            write_long(len(datum), out)
            for item in datum:
                write_item(item, out)
        out.append(0)

    return write


def _map_writer(write_value: Writer) -> Writer:
    def write(datum: Any, out: bytearray) -> None:
        if type(datum) is not dict:
            raise Unsupported
        if datum:
            write_long(len(datum), out)
            for key, value in datum.items():
                _string(key, out)
                write_value(value, out)
        out.append(0)

    return write


# -- reading ------------------------------------------------------------------------------------


def read_long(buffer: bytes, pos: int) -> tuple[int, int]:
    byte = buffer[pos]
    pos += 1
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos
    n = byte & 0x7F
    shift = 7
    while True:
        byte = buffer[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than a long")


def _read_raw(buffer: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(buffer, pos)
    end = pos + size
    if size < 0 or end > len(buffer):
        raise ValueError("a length past the end of the record")
    return buffer[pos:end], end


def _read_string(buffer: bytes, pos: int) -> tuple[str, int]:
    raw, pos = _read_raw(buffer, pos)
    return raw.decode(), pos


def _read_boolean(buffer: bytes, pos: int) -> tuple[bool, int]:
    return buffer[pos] != 0, pos + 1  # (fastavro: anything but 0 is true)


def _read_null(buffer: bytes, pos: int) -> tuple[None, int]:
    return None, pos


def _real_reader(unpacker: struct.Struct) -> Reader:
    size = unpacker.size

    def read(buffer: bytes, pos: int) -> tuple[float, int]:
        return unpacker.unpack_from(buffer, pos)[0], pos + size

    return read


_PRIMITIVE_READERS: dict[str, Reader] = {
    "null": _read_null,
    "boolean": _read_boolean,
    "int": read_long,
    "long": read_long,
    "float": _real_reader(_FLOAT),
    "double": _real_reader(_DOUBLE),
    "string": _read_string,
    "bytes": _read_raw,
}


def _reader(compiler: _Compiler, schema: Any) -> Reader:
    if isinstance(schema, str):
        if schema in _PRIMITIVE_READERS:
            return _PRIMITIVE_READERS[schema]
        if schema not in compiler.named_readers:
            # References from inside its own definition (a recursive type: Value) go through the
            # slot; any later one gets the reader itself, without that extra call.
            slot: list[Reader] = []
            compiler.named_readers[schema] = lambda buffer, pos: slot[0](buffer, pos)
            slot.append(_reader(compiler, compiler.named[schema]))
            compiler.named_readers[schema] = slot[0]
        return compiler.named_readers[schema]
    if isinstance(schema, list):
        return _union_reader(compiler, schema)
    kind = schema["type"]
    if kind == "record":
        fields = tuple((f["name"], _reader(compiler, f["type"])) for f in schema["fields"])

        def read_record(buffer: bytes, pos: int) -> tuple[dict[str, Any], int]:
            record = {}
            for name, read_field in fields:
                record[name], pos = read_field(buffer, pos)
            return record, pos

        return read_record
    if kind == "enum":
        symbols = tuple(schema["symbols"])

        def read_enum(buffer: bytes, pos: int) -> tuple[str, int]:
            index, pos = read_long(buffer, pos)
            if index < 0:
                raise ValueError("a negative enum index")
            return symbols[index], pos

        return read_enum
    if kind == "array":
        read_item = _reader(compiler, schema["items"])

        def read_array(buffer: bytes, pos: int) -> tuple[list[Any], int]:
            items = []
            count, pos = read_long(buffer, pos)
            while count:
                if count < 0:  # a block that gives its size in bytes too
                    count = -count
                    _, pos = read_long(buffer, pos)
                for _ in range(count):
                    item, pos = read_item(buffer, pos)
                    items.append(item)
                count, pos = read_long(buffer, pos)
            return items, pos

        return read_array
    if kind == "map":
        read_value = _reader(compiler, schema["values"])

        def read_map(buffer: bytes, pos: int) -> tuple[dict[str, Any], int]:
            entries = {}
            count, pos = read_long(buffer, pos)
            while count:
                if count < 0:
                    count = -count
                    _, pos = read_long(buffer, pos)
                for _ in range(count):
                    key, pos = _read_string(buffer, pos)
                    entries[key], pos = read_value(buffer, pos)
                count, pos = read_long(buffer, pos)
            return entries, pos

        return read_map
    if kind in _PRIMITIVE_READERS and "logicalType" not in schema:
        return _PRIMITIVE_READERS[kind]
    raise Unsupported(f"no compiled reader for {kind}")


def _union_reader(compiler: _Compiler, branches: list[Any]) -> Reader:
    # As fastavro's read_union with return_record_name(_override): a record branch comes back
    # as (its name, record) unless the union has only one record (a reference to any named type
    # counts as a record there, as fastavro counts it).
    records = sum(1 for b in branches if (isinstance(b, dict) and b["type"] == "record")
                  or (isinstance(b, str) and b not in AVRO_TYPES))
    plan = []
    for branch in branches:
        name = None
        if records != 1:
            if isinstance(branch, dict) and branch["type"] == "record":
                name = branch["name"]
            elif isinstance(branch, str) and branch not in AVRO_TYPES:
                name = compiler.named[branch]["name"]
        plan.append((_reader(compiler, branch), name))
    branches_plan = tuple(plan)

    def read_union(buffer: bytes, pos: int) -> tuple[Any, int]:
        index, pos = read_long(buffer, pos)
        if index < 0:
            raise ValueError("a negative union index")
        read_branch, name = branches_plan[index]
        value, pos = read_branch(buffer, pos)
        return (value if name is None else (name, value)), pos

    if len(plan) == 2 and branches[0] == "null" and plan[1][1] is None:
        # An optional field ["null", X], most of a task entry's: its index is one byte, 0 (null)
        # or 2 (X) zig-zagged; read without the general path's calls.
        read_value = plan[1][0]

        def read_optional(buffer: bytes, pos: int) -> tuple[Any, int]:
            byte = buffer[pos]
            if byte == 0:
                return None, pos + 1
            if byte == 2:
                return read_value(buffer, pos + 1)
            return read_union(buffer, pos)

        return read_optional
    return read_union


# -- per schema -------------------------------------------------------------------------------


class Compiled:
    """One parsed schema's writer and reader."""

    def __init__(self, parsed: dict[str, Any]) -> None:
        compiler = _Compiler(parsed.get("__named_schemas", {}))
        self._write = compiler.writer(parsed)
        self._read = _reader(compiler, parsed)

    def write(self, record: Any, out: bytearray) -> None:
        """Append the record's encoding to `out`; Unsupported (or any error) for a value this
        writer does not take: `out` then holds a partial write."""
        self._write(record, out)

    def read(self, buffer: bytes, pos: int = 0) -> Any:
        return self._read(buffer, pos)[0]

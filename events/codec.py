"""Bytes <-> events: Avro bodies in Confluent wire framing (0x00, 4-byte schema id, body).

Python values map to the `kafka_tasks.Value` union: tuples, numpy arrays and scalars, and task
exceptions travel as named records so they come back as the same Python types.
"""
from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import fastavro

from events import messages as m
from events.avro import Compiled, write_long
from events.errors import DecodeError
from events.spec import EntryKind, GroupEntry, Initial, PipelineSpec, RetrySpec, TaskEntry
from events.status import PipelineStatus
from events.task_exception import TaskException
from schemas import Schema, Schemas, load

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None  # type: ignore[assignment]

MAGIC = 0
_HEADER = struct.Struct(">bI")
EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        m.PipelineSubmitted,
        m.TaskRequested,
        m.TaskSucceeded,
        m.TaskFailed,
        m.TaskOutcomes,
        m.RetryScheduled,
        m.PipelineActionRequested,
        m.PipelineActionApplied,
        m.PipelineStatusChanged,
        m.TasksSkipped,
        m.PipelineFinished,
        m.SubmissionRejected,
        m.TimerElapsed,
        m.ScheduleDefined,
        m.ScheduleUpdated,
        m.TaskStatusChanged,
        m.StatusEvents,
        m.SlaMissed,
        m.PermitRequested,
        m.PermitReleased,
    )
}


# -- values ------------------------------------------------------------------------------------


def value_to_avro(value: Any) -> dict[str, Any]:
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return {"value": value}
    if kind is list:
        return {"value": [value_to_avro(v) for v in value]}
    if kind is dict:
        return {"value": {k: value_to_avro(v) for k, v in value.items()}}
    if isinstance(value, tuple):  # NamedTuples travel as plain tuples
        return {"value": ("kafka_tasks.Tuple", {"items": [value_to_avro(v) for v in value]})}
    if isinstance(value, TaskException):
        return {"value": ("kafka_tasks.TaskException", _exception_to_avro(value))}
    if np is not None and isinstance(value, np.ndarray):
        data = {"dtype": value.dtype.str, "shape": list(value.shape), "data": value.tobytes()}
        return {"value": ("kafka_tasks.NdArray", data)}
    if np is not None and isinstance(value, np.generic):
        return {"value": ("kafka_tasks.NumpyScalar", {"dtype": value.dtype.str, "data": value.tobytes()})}
    if isinstance(value, list):
        return {"value": [value_to_avro(v) for v in value]}
    raise TypeError(f"cannot encode a {kind.__qualname__} as a Value (check values at the edge)")


def value_from_avro(datum: dict[str, Any]) -> Any:
    value = datum["value"]
    if type(value) is list:
        return [value_from_avro(v) for v in value]
    if type(value) is dict:
        return {k: value_from_avro(v) for k, v in value.items()}
    if type(value) is tuple:
        name, record = value
        return _RECORD_VALUES[name](record)
    return value


def _ndarray(record: dict[str, Any]) -> Any:
    return np.frombuffer(record["data"], dtype=np.dtype(record["dtype"])).reshape(record["shape"]).copy()


def _scalar(record: dict[str, Any]) -> Any:
    return np.frombuffer(record["data"], dtype=np.dtype(record["dtype"]))[0]


_RECORD_VALUES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "kafka_tasks.Tuple": lambda r: tuple(value_from_avro(v) for v in r["items"]),
    "kafka_tasks.TaskException": lambda r: _exception_from_avro(r),
    "kafka_tasks.NdArray": _ndarray,
    "kafka_tasks.NumpyScalar": _scalar,
}


def _exception_to_avro(error: TaskException) -> dict[str, Any]:
    return {
        "task_id": error.task_id,
        "exception_type": error.exception_type,
        "exception_message": error.exception_message,
        "stacktrace": error.stacktrace,
    }


def _exception_from_avro(record: dict[str, Any]) -> TaskException:
    return TaskException(
        record["task_id"], record["exception_type"], record["exception_message"], record["stacktrace"]
    )


# -- pipeline specs ----------------------------------------------------------------------------


def _retry_to_avro(retry: RetrySpec | None) -> dict[str, Any] | None:
    if retry is None:
        return None
    return {
        "retry_for": list(retry.retry_for),
        "max_retries": retry.max_retries,
        "delay_ms": retry.delay_ms,
        "exponential_back_off": retry.exponential_back_off,
    }


def _retry_from_avro(record: dict[str, Any] | None) -> RetrySpec | None:
    if record is None:
        return None
    return RetrySpec(
        tuple(record["retry_for"]), record["max_retries"], record["delay_ms"], record["exponential_back_off"]
    )


def spec_to_avro(spec: PipelineSpec) -> dict[str, Any]:
    initial = spec.initial
    has_initial = initial.has_args or initial.has_kwargs or initial.has_state
    return {
        "entries": [_entry_to_avro(e) for e in spec.entries],
        "inline": spec.inline,
        "initial": {
            "args": value_to_avro(initial.args) if initial.has_args else None,
            "kwargs": {k: value_to_avro(v) for k, v in initial.kwargs.items()} if initial.has_kwargs else None,
            "state": value_to_avro(initial.state) if initial.has_state else None,
        }
        if has_initial
        else None,
    }


def _entry_to_avro(entry: TaskEntry | GroupEntry) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, TaskEntry):
        return (
            "kafka_tasks.TaskEntry",
            {
                "uid": entry.uid,
                "task_name": entry.task_name,
                "args": [value_to_avro(a) for a in entry.args],
                "kwargs": {k: value_to_avro(v) for k, v in entry.kwargs.items()},
                "kind": entry.kind.value,
                "is_fruitful": entry.is_fruitful,
                "retry": _retry_to_avro(entry.retry),
                "worker_name": entry.worker_name,
                "display_name": entry.display_name,
                "is_wait": entry.is_wait,
                "revert": entry.revert,
                "requires": None if entry.requires is None else list(entry.requires),
                "sla_s": entry.sla_s,
                "concurrency": entry.concurrency,
            },
        )
    return (
        "kafka_tasks.GroupEntry",
        {
            "group_id": entry.group_id,
            "chains": [spec_to_avro(c) for c in entry.chains],
            "max_parallelism": entry.max_parallelism,
            "return_exceptions": entry.return_exceptions,
            "is_wait": entry.is_wait,
            "graph_level": entry.graph_level,
        },
    )


def spec_from_avro(record: dict[str, Any]) -> PipelineSpec:
    raw = record["initial"]
    initial = Initial()
    if raw is not None:
        initial = Initial(
            args=value_from_avro(raw["args"]) if raw["args"] is not None else None,
            kwargs={k: value_from_avro(v) for k, v in raw["kwargs"].items()} if raw["kwargs"] is not None else {},
            state=value_from_avro(raw["state"]) if raw["state"] is not None else None,
            has_args=raw["args"] is not None,
            has_kwargs=raw["kwargs"] is not None,
            has_state=raw["state"] is not None,
        )
    return PipelineSpec(tuple(_entry_from_avro(e) for e in record["entries"]), record["inline"], initial)


def _entry_from_avro(tagged: tuple[str, dict[str, Any]]) -> TaskEntry | GroupEntry:
    name, r = tagged
    if name == "kafka_tasks.TaskEntry":
        return TaskEntry(
            uid=r["uid"],
            task_name=r["task_name"],
            args=tuple(value_from_avro(a) for a in r["args"]),
            kwargs={k: value_from_avro(v) for k, v in r["kwargs"].items()},
            kind=EntryKind(r["kind"]),
            is_fruitful=r["is_fruitful"],
            retry=_retry_from_avro(r["retry"]),
            worker_name=r["worker_name"],
            display_name=r["display_name"],
            is_wait=r["is_wait"],
            # (fields added after 0.1.0: absent from what it wrote)
            revert=r.get("revert"),
            requires=None if r.get("requires") is None else tuple(r["requires"]),
            sla_s=r.get("sla_s"),
            concurrency=r.get("concurrency"),
        )
    return GroupEntry(
        group_id=r["group_id"],
        chains=tuple(spec_from_avro(c) for c in r["chains"]),
        max_parallelism=r["max_parallelism"],
        return_exceptions=r["return_exceptions"],
        is_wait=r["is_wait"],
        graph_level=r.get("graph_level", False),
    )


def _parent_to_avro(parent: m.ParentTask | None) -> dict[str, Any] | None:
    if parent is None:
        return None
    return {
        "pipeline_id": parent.pipeline_id,
        "run": parent.run,
        "uid": parent.uid,
        "attempt": parent.attempt,
        "is_fruitful": parent.is_fruitful,
        "state": value_to_avro(parent.state),
    }


def _parent_from_avro(r: dict[str, Any] | None) -> m.ParentTask | None:
    if r is None:
        return None
    return m.ParentTask(
        r["pipeline_id"], r["run"], r["uid"], r["attempt"], r["is_fruitful"], value_from_avro(r["state"])
    )


# -- events ------------------------------------------------------------------------------------

_OUTCOME_TYPES: dict[str, type] = {"kafka_tasks.TaskSucceeded": m.TaskSucceeded, "kafka_tasks.TaskFailed": m.TaskFailed}
_STATUS_TYPES: dict[str, type] = {f"kafka_tasks.{cls.__name__}": cls for cls in m.STATUS_TYPES}

# How each non-plain field converts: (to avro, from avro). Fields not listed are strings, ints
# and booleans that Avro carries as they are.
_FIELD_CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "args": (lambda v: [value_to_avro(a) for a in v], lambda d: tuple(value_from_avro(a) for a in d)),
    "kwargs": (
        lambda v: {k: value_to_avro(a) for k, a in v.items()},
        lambda d: {k: value_from_avro(a) for k, a in d.items()},
    ),
    "state": (value_to_avro, value_from_avro),
    "result": (value_to_avro, value_from_avro),
    "spec": (spec_to_avro, spec_from_avro),
    "child": (
        lambda v: None if v is None else spec_to_avro(v),
        lambda d: None if d is None else spec_from_avro(d),
    ),
    "parent": (_parent_to_avro, _parent_from_avro),
    "error": (
        lambda v: None if v is None else _exception_to_avro(v),
        lambda d: None if d is None else _exception_from_avro(d),
    ),
    "retry": (_retry_to_avro, _retry_from_avro),
    "status": (lambda v: v.value, PipelineStatus),
    "previous": (lambda v: v.value, PipelineStatus),
    "action": (lambda v: v.value, m.Action),
    "uids": (list, tuple),
    "task_names": (list, tuple),
    "revert_failures": (list, tuple),
    "request_ids": (list, tuple),
    # PermitRequested carries a whole TaskRequested (bound below, once _to_record exists).
    "request": (lambda v: _to_record(v), lambda d: _from_record(m.TaskRequested, d)),
    "exception_mro": (list, tuple),
    # TaskOutcomes: each a TaskSucceeded or TaskFailed, named (the union has two records).
    "outcomes": (
        lambda v: [(f"kafka_tasks.{type(o).__name__}", _to_record(o)) for o in v],
        lambda d: tuple(_from_record(_OUTCOME_TYPES[name], record) for name, record in d),
    ),
    # StatusEvents: each a status event, named (the union has several records).
    "events": (
        lambda v: [(f"kafka_tasks.{type(e).__name__}", _to_record(e)) for e in v],
        lambda d: tuple(_from_record(_STATUS_TYPES[name], record) for name, record in d),
    ),
}


# Per event class, its fields in order with their codecs (None: the value as it is). Worked out
# once per class: `dataclasses.fields` on every event was a fifth of the orchestrator's encoding.
_FIELD_PLANS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _field_plan(cls: type) -> tuple[tuple[str, Any], ...]:
    plan = _FIELD_PLANS.get(cls)
    if plan is None:
        plan = _FIELD_PLANS[cls] = tuple((f.name, _FIELD_CODECS.get(f.name)) for f in fields(cls))
    return plan


def _to_record(event: Any) -> dict[str, Any]:
    return {
        name: getattr(event, name) if codec is None else codec[0](getattr(event, name))
        for name, codec in _field_plan(type(event))
    }


def _from_record(cls: type, record: dict[str, Any]) -> Any:
    kwargs = {}
    for name, codec in _field_plan(cls):
        if name not in record:  # written by an earlier release: the field's default
            continue
        value = record[name]
        kwargs[name] = value if codec is None else codec[1](value)
    return cls(**kwargs)


# Changes a default cannot bridge (a field renamed or split, a meaning changed): a function from
# the record as an earlier version wrote it to the record the current code expects, keyed by
# (schema name, the version it was written with). Applied at the decode edge, so the fold never
# asks which version an event was. None so far: every change since 0.1.0 only added fields with
# defaults.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


# Each schema's compiled writer and reader (events/avro.py), made at first use, by schema id and
# file: a codec over another schema directory (a test's modified copy) may hold other content
# under the same id.
_COMPILED: dict[tuple[int, Any], Compiled] = {}


def _compiled(schema: Schema) -> Compiled:
    key = (schema.schema_id, schema.path)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = Compiled(schema.parsed)
    return compiled


def _write_body(out: bytearray, schema: Schema, record: dict[str, Any]) -> bytes:
    """`out` (the framing) followed by the record's Avro body."""
    framing = len(out)
    try:
        _compiled(schema).write(record, out)
    except Exception:  # a value of a shape the compiled writer does not take: fastavro's own way
        del out[framing:]
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema.parsed, record)
        out += buffer.getvalue()
    return bytes(out)


def _read_body(raw: bytes, schema: Schema) -> Any:
    """The Avro body after the framing, read with the schema it was written with."""
    try:
        return _compiled(schema).read(raw, _HEADER.size)
    except Exception:  # bytes the compiled reader cannot read: fastavro reads them or says why
        return fastavro.schemaless_reader(
            io.BytesIO(raw[_HEADER.size :]),
            schema.parsed,
            None,
            return_record_name=True,
            return_record_name_override=True,
        )


class Codec:
    """Encodes and decodes events. One instance per process is enough (schemas are parsed once)."""

    def __init__(self, schemas: Schemas | None = None) -> None:
        self.schemas = schemas or load()
        self._outcome_branches: dict[int, int] | None = None

    def encode(self, event: Any) -> bytes:
        schema = self.schemas[type(event).__name__]
        return _write_body(bytearray(_HEADER.pack(MAGIC, schema.schema_id)), schema, _to_record(event))

    def encode_outcomes(self, pipeline_id: str, encoded: Sequence[bytes]) -> bytes:
        """The TaskOutcomes of outcomes this codec encoded (TaskSucceeded, TaskFailed), byte for
        byte as `encode` writes it, without encoding them again (a worker encodes each outcome
        to check its size): the pipeline id, then the array's count, each outcome's union branch
        and body (its bytes after the framing), and the array's closing 0."""
        schema = self.schemas["TaskOutcomes"]
        if self._outcome_branches is None:  # outcome's schema id -> its branch of the array's union
            items = next(f for f in schema.raw["fields"] if f["name"] == "outcomes")["type"]["items"]
            self._outcome_branches = {self.schemas[name.rsplit(".", 1)[-1]].schema_id: i for i, name in enumerate(items)}
        branch_of = self._outcome_branches
        out = bytearray(_HEADER.pack(MAGIC, schema.schema_id))
        name = pipeline_id.encode()
        write_long(len(name), out)
        out += name
        if encoded:
            write_long(len(encoded), out)
            for raw in encoded:
                magic, schema_id = _HEADER.unpack_from(raw)
                if magic != MAGIC or schema_id not in branch_of:
                    raise ValueError(f"not an outcome this codec encoded (schema id {schema_id})")
                write_long(branch_of[schema_id], out)
                out += raw[_HEADER.size:]
        out.append(0)
        return bytes(out)

    def encode_spec(self, spec: PipelineSpec) -> bytes:
        """A pipeline spec alone, framed like an event (its schema id first, so a later release
        reads it with the version it was written with): how a sub-flow travels as an argument."""
        schema = self.schemas["PipelineSpec"]
        return _write_body(bytearray(_HEADER.pack(MAGIC, schema.schema_id)), schema, spec_to_avro(spec))

    def decode_spec(self, raw: bytes) -> PipelineSpec:
        magic, schema_id = _HEADER.unpack_from(raw)
        schema = self.schemas.writers.get(schema_id)
        if magic != MAGIC or schema is None or schema.name != "PipelineSpec":
            raise DecodeError(f"not a framed PipelineSpec (schema id {schema_id})", bytes(raw))
        return spec_from_avro(_read_body(raw, schema))

    def decode(self, raw: bytes) -> Any:
        """The event in `raw`, or `DecodeError` (carrying `raw`) saying what is wrong with it."""
        if not isinstance(raw, (bytes, bytearray)) or len(raw) < _HEADER.size:
            raise DecodeError("not a Kafka Tasks event: shorter than the 5-byte Avro framing", bytes(raw or b""))
        magic, schema_id = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise DecodeError(
                f"not a Kafka Tasks event: first byte is {magic}, not the Avro framing's 0; "
                "produce records with the Confluent Avro wire format",
                bytes(raw),
            )
        schema = self.schemas.writers.get(schema_id)
        if schema is None or schema.name not in EVENT_TYPES:
            raise DecodeError(
                f"unknown event schema id {schema_id}: not one of this release's event schemas "
                "(see schemas/); upgrade the consumer or check the producer",
                bytes(raw),
            )
        try:
            # Read as written. A record of an earlier release lacks the fields added since: the
            # conversion below gives them their defaults. (Not Avro's resolution against the
            # current schema: in the Value union it would turn bytes into str, "promoting" them.)
            record = _read_body(raw, schema)
            upcast = UPCASTERS.get((schema.name, schema.version))
            if upcast is not None and schema is not self.schemas[schema.name]:
                record = upcast(record)
            return _from_record(EVENT_TYPES[schema.name], record)
        except Exception as ex:  # any parse failure is a decode failure, with the bytes kept
            raise DecodeError(f"corrupt {schema.name} event: {ex}", bytes(raw)) from ex

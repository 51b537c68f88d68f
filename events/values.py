"""What a task argument, result or state may hold: exactly what the Avro `Value` schema carries.

Checking happens at the edges (`send`, submit, a task's return) so that a value which could not
cross Kafka fails where the user wrote it, naming the argument and its type, and the in-process
driver refuses exactly what the Kafka driver would.
"""
from __future__ import annotations

from typing import Any

from events.errors import UnsupportedValueError
from events.task_exception import TaskException

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

try:  # numpy is a dependency, but keep the pure core importable without it
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None  # type: ignore[assignment]


def ensure_carriable(value: Any, where: str) -> None:
    """Raise `UnsupportedValueError` naming `where` if `value` cannot be encoded as Avro."""
    problem = _find_problem(value, where)
    if problem:
        path, bad = problem
        raise UnsupportedValueError(
            f"{path} is a {type(bad).__module__}.{type(bad).__qualname__}, which Kafka Tasks cannot "
            "send through Kafka. Use None, bool, int (64-bit), float, str, bytes, list, tuple, dict, "
            "numpy scalars or arrays, or convert the object to one of those first."
        )


def _find_problem(value: Any, path: str) -> tuple[str, Any] | None:
    # Iterative on purpose: a 10,000-element list must not cost 10,000 Python frames.
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        kind = type(item)
        if item is None or kind in (bool, float, str, bytes, TaskException):
            continue
        if kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return f"{where} (an int outside 64 bits)", item
            continue
        if isinstance(item, (list, tuple)):  # a NamedTuple travels as a plain tuple
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
            continue
        if kind is dict:
            for k, v in item.items():
                if type(k) is not str:
                    return f"{where} key {k!r}", k
                stack.append((v, f"{where}[{k!r}]"))
            continue
        if _np is not None and isinstance(item, (_np.generic, _np.ndarray)):
            if item.dtype.hasobject:
                return f"{where} (a numpy object array)", item
            continue
        return where, item
    return None

"""The differential contract: the task bodies and the neutral value format, shared by both engines.

Plain Python with no imports from either engine: `ours.py` imports it normally and the seed side
(`seed/tasks.py`, running in its own virtual environment) by path, then each binds the same
functions with its own `bind`, under the same task names (`tasks.<function>`).
"""
from __future__ import annotations

from typing import Any

STATEFUL = {"set_state", "read_state", "merge_state"}  # bound with with_state=True
NOT_FRUITFUL = {"noop"}  # bound with is_fruitful=False

_flaky_calls: dict[str, int] = {}


def reset_counters() -> None:
    _flaky_calls.clear()


def echo(*args):
    return args


def add(a, b=1):
    return a + b


def join(*args, sep="-"):
    return sep.join(str(a) for a in args)


def fail(*args, message="boom"):
    raise ValueError(message)


def fail_type(*args, message="bad type"):
    raise TypeError(message)


def describe_error(ex, *args):
    return f"{ex.exception_type}: {ex.exception_message}"


def flaky(key, failures, value):
    calls = _flaky_calls.get(key, 0)
    _flaky_calls[key] = calls + 1
    if calls < failures:
        raise ValueError(f"flaky {key}")
    return value


def set_state(state, *args, value=None):
    return (value, *args)


def read_state(state, *args):
    return state, state


def merge_state(state, *args, key="k", value=1):
    return ({**(state or {}), key: value}, *args)


def noop(*args):
    return "ignored"


BODIES = [echo, add, join, fail, fail_type, describe_error, flaky, set_state, read_state, merge_state, noop]


def decode(value: Any) -> Any:
    """Neutral JSON -> Python ({"__tuple__": [...]} -> tuple). Real tuples are accepted too,
    because a description nested in spawn's args has already been decoded once."""
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(v) for v in value["__tuple__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = [decode(v) for v in value]
        return tuple(out) if isinstance(value, tuple) else out
    return value

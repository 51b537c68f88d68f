"""The tasks the scenario suite runs. A module of its own so a Kafka worker can import it too."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, NamedTuple

import numpy as np

from streams import (
    KafkaTasks,
    RetryPolicy,
    TaskContext,
    TaskException,
    TaskTimeoutError,
    in_parallel,
    with_pause_pipeline,
)
from tests.scenarios.shared import Captures, Counters, Journal

tasks = KafkaTasks(app_id="scenarios")

# Call counters and captured arguments, shared with the test process (a test uses a fresh key).
CALLS = Counters()
CAPTURED = Captures()
JOURNAL = Journal()  # what tasks and their reverts did, in order


class Point(NamedTuple):
    x: int
    y: int


@tasks.bind()
def echo(*args: Any) -> Any:
    return args


@tasks.bind()
def multiply(a: float, b: float) -> float:
    return a * b


@tasks.bind()
def add(a: float, b: float = 1) -> float:
    return a + b


@tasks.bind()
def subtract(a: float, b: float) -> float:
    return a - b


@tasks.bind()
def average(values: list[float]) -> float:
    return sum(values) / len(values)


@tasks.bind()
def hello(first_name: str, last_name: str, title: str = "") -> str:
    return f"Hello {title + ' ' if title else ''}{first_name} {last_name}"


@tasks.bind()
def join(*args: Any, sep: str = "-") -> str:
    return sep.join(str(a) for a in args)


@tasks.bind()
def pair(a: Any, b: Any) -> tuple[Any, Any]:
    return a, b


@tasks.bind()
def as_list(*args: Any) -> list[Any]:
    return list(args)


@tasks.bind()
def count_args(*args: Any, **kwargs: Any) -> int:
    return len(args) + len(kwargs)


@tasks.bind()
def kwargs_of(**kwargs: Any) -> dict[str, Any]:
    return dict(sorted(kwargs.items()))


@tasks.bind()
def point(x: int, y: int) -> Point:
    return Point(x, y)


@tasks.bind()
def fail(*args: Any, message: str = "I am supposed to fail") -> None:
    raise ValueError(message)


@tasks.bind()
def fail_type(*args: Any, message: str = "bad type") -> None:
    raise TypeError(message)


class CustomError(LookupError):
    pass


@tasks.bind()
def fail_custom(*args: Any) -> None:
    raise CustomError("custom")


@tasks.bind()
def describe_error(ex: TaskException, *args: Any) -> str:
    return f"{ex.exception_type}: {ex.exception_message}"


@tasks.bind()
def handled(ex: TaskException, value: Any = "handled") -> Any:
    return value


@tasks.bind()
def rethrow(ex: TaskException, *args: Any) -> None:
    raise RuntimeError(f"rethrown {ex.exception_message}")


@tasks.bind(is_fruitful=False)
def noop(*args: Any) -> str:
    return "dropped"


@tasks.bind()
def record(key: str, *args: Any) -> str:
    """Counts its calls under `key` (for finally/cleanup checks)."""
    CALLS.increment(key)
    return key


@tasks.bind(is_fruitful=False)
def cleanup(key: str, *args: Any) -> None:
    CALLS.increment(key)


@tasks.bind(is_fruitful=False)
def cleanup_fails(*args: Any) -> None:
    raise ValueError("error in finally")


@tasks.bind()
def flaky(key: str, failures: int, value: Any = "ok") -> Any:
    calls = CALLS.increment(key)
    if calls <= failures:
        raise ValueError(f"flaky {key} #{calls}")
    return value


@tasks.bind(retry_policy=RetryPolicy(retry_for=[ValueError], max_retries=2))
def flaky_bound(key: str, failures: int) -> str:
    calls = CALLS.increment(key)
    if calls <= failures:
        raise ValueError(f"flaky {key} #{calls}")
    return f"{key} after {calls}"


@tasks.bind()
def flaky_custom(key: str, failures: int) -> str:
    calls = CALLS.increment(key)
    if calls <= failures:
        raise CustomError(f"custom {key} #{calls}")
    return "recovered"


@tasks.bind(with_state=True)
def set_state(state: Any, *args: Any, value: Any = None) -> Any:
    return (value, *args)


@tasks.bind(with_state=True)
def read_state(state: Any, *args: Any) -> Any:
    return state, state


@tasks.bind(with_state=True)
def merge_state(state: Any, *args: Any, key: str = "k", value: Any = 1) -> Any:
    return ({**(state or {}), key: value}, *args)


@tasks.bind(with_state=True)
def increment_state(state: int) -> tuple[int, int]:
    return state + 1, state + 1


@tasks.bind(with_state=True)
def state_only(state: Any) -> Any:
    return "only state"  # one value from a with_state task is the new state; the result is ()


@tasks.bind(with_state=True)
def fail_with_state(state: Any, *args: Any) -> None:
    raise ValueError(f"failed with state {state}")


@tasks.bind(with_context=True)
def whoami(context: TaskContext, *args: Any) -> dict[str, Any]:
    return {
        "task": context.task_name,
        "pipeline": context.get_pipeline_id(),
        "root": context.get_root_pipeline_id(),
        "attempt": context.attempt,
    }


@tasks.bind(with_context=True, with_state=True)
def context_and_state(context: TaskContext, state: Any, value: Any) -> Any:
    return state, f"{context.task_name.rsplit('.', 1)[-1]}:{state}:{value}"


@tasks.bind()
async def async_add(a: float, b: float) -> float:
    await asyncio.sleep(0)
    return a + b


@tasks.bind()
def generate(n: int) -> Any:
    yield from range(n)


@tasks.bind()
async def agenerate(n: int) -> Any:
    for i in range(n):
        yield i


@tasks.bind()
def numpy_std(values: list[float]) -> Any:
    return np.std(np.array(values))


@tasks.bind()
def numpy_array(n: int) -> Any:
    return np.arange(n, dtype=np.float32)


@tasks.bind()
def unsendable() -> Any:
    return object()


@tasks.bind()
def pause_after(value: Any) -> Any:
    return with_pause_pipeline(value)


# -- orchestrator tasks: return a pipeline ---------------------------------------------------


@tasks.bind()
def compose(a: float, b: float, c: float) -> Any:
    return multiply.send(a, b).continue_with(subtract, c)


@tasks.bind()
def maybe_double(x: float) -> Any:
    return multiply.send(x, 2) if x > 10 else x


@tasks.bind()
def count_to(x: int, target: int = 10) -> Any:
    if x >= target:
        return x
    return add.send(x, 1).continue_with(count_to, target)


@tasks.bind()
def fan_out(n: int) -> Any:
    return in_parallel([multiply.send(i, i) for i in range(n)])


@tasks.bind()
def empty_fan_out() -> Any:
    return in_parallel([])


@tasks.bind()
def failing_child() -> Any:
    return add.send(1, 2).continue_with(fail, message="child failed")


@tasks.bind(with_state=True)
def isolated_child(state: Any, initial: Any) -> Any:
    # The child starts from its own initial state; the parent keeps the state returned here.
    return "parent state", increment_state.send().with_initial(state=initial)


@tasks.bind(with_state=True)
def inline_child(state: Any) -> Any:
    return state, increment_state.send().inline()


@tasks.bind(with_state=True)
def inline_child_with_initial(state: Any, initial: Any) -> Any:
    return state, increment_state.send().with_initial(state=initial).inline()


@tasks.bind()
def invalid_child() -> Any:
    return add.send(1, 2).finally_do(cleanup, "x").continue_with(add, 3)


@tasks.bind(is_fruitful=False)
def non_fruitful_orchestrator() -> Any:
    return add.send(1, 2)


@tasks.bind()
def child_with_finally(key: str) -> Any:
    return add.send(1, 2).finally_do(cleanup, key)


@tasks.bind()
def slow_child(key: str) -> Any:
    return record.send(key).wait().continue_with(echo, "after wait")


@tasks.bind(retry_policy=RetryPolicy(retry_for=[ValueError], max_retries=3, delay=timedelta(milliseconds=5)))
def delayed_flaky(key: str, failures: int) -> str:
    calls = CALLS.increment(key)
    if calls <= failures:
        raise ValueError("later")
    return "done"



@tasks.bind()
def capture(key: str, *args: Any, **kwargs: Any) -> Any:
    """Remembers exactly what it was called with."""
    CAPTURED[key] = (args, kwargs)
    return key


@tasks.bind(with_state=True, is_fruitful=False)
def capture_state(state: Any, key: str) -> Any:
    CAPTURED[key] = state
    return (state,)


@tasks.bind()
def mark(value: Any, key: str) -> Any:
    """Counts a call under `key` and passes the previous result on."""
    CALLS.increment(key)
    return value


# -- command tasks (streams/command.py): shell commands as tasks ----------------------------------

shout = tasks.command("shout", "printf '%s!' {word} | tr a-z A-Z")
count_chars = tasks.command("count_chars", "printf %s {text} | wc -c | tr -d ' '")
complain = tasks.command("complain", "echo 'disk full on {volume}' >&2; exit 3")
nap = tasks.command("nap", "sleep {seconds}", timeout=0.5)


# -- task timeouts (@tasks.bind(timeout=...)) ---------------------------------------------------


@tasks.bind(timeout=0.3)
async def slow_async(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@tasks.bind(timeout=0.3)
def slow_sync(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "done"


@tasks.bind(timeout=0.3, retry_policy=RetryPolicy(retry_for=[TaskTimeoutError], max_retries=2))
async def slow_until_second_call(key: str) -> int:
    calls = CALLS.increment(key)
    if calls < 2:
        await asyncio.sleep(5)
    return calls


# -- reverts (@tasks.bind(revert=...)) ----------------------------------------------------------


def unbook(key: str, item: str, result: str) -> None:
    JOURNAL.append(key, f"cancel {result}")


@tasks.bind(revert=unbook)
def book(key: str, item: str) -> str:
    JOURNAL.append(key, f"book {item}")
    return f"{item}-booking"


def unbook_next(previous: Any, key: str, item: str, result: str) -> None:
    JOURNAL.append(key, f"cancel {result}")


@tasks.bind(revert=unbook_next)
def book_next(previous: Any, key: str, item: str) -> str:
    """Books after a previous step (whose result comes first)."""
    JOURNAL.append(key, f"book {item}")
    return f"{item}-booking"


def unbook_refused(previous: Any, key: str, item: str, result: str) -> None:
    JOURNAL.append(key, f"cannot cancel {result}")
    raise RuntimeError(f"{item} bookings cannot be cancelled")


@tasks.bind(revert=unbook_refused)
def book_final(previous: Any, key: str, item: str) -> str:
    JOURNAL.append(key, f"book {item}")
    return f"{item}-booking"


@tasks.bind()
def charge(previous: Any, key: str, amount: int) -> str:
    JOURNAL.append(key, f"charge {amount}")
    if amount > 100:
        raise ValueError(f"card declined for {amount}")
    return "charged"


# -- graph flows (streams/graph.py) --------------------------------------------------------------


@tasks.bind(provides="prices")
def load_prices(stock: str, days: int = 3) -> list[float]:
    return [float(len(stock) + day) for day in range(days)]


@tasks.bind(provides="low")
def lowest(prices: list[float]) -> float:
    return min(prices)


@tasks.bind(provides="high")
def highest(prices: list[float]) -> float:
    return max(prices)


@tasks.bind(provides="summary")
def summarise(stock: str, low: float, high: float) -> str:
    return f"{stock}: {low}..{high}"


@tasks.bind(provides="spread", requires=["high", "low"])
def spread(*bounds: float, **named: float) -> float:
    return named["high"] - named["low"]


@tasks.bind(provides="a")
def needs_b(b: int) -> int:
    return b


@tasks.bind(provides="b")
def needs_a(a: int) -> int:
    return a


@tasks.bind(provides="ticket", revert=unbook)
def book_graph(key: str, item: str) -> str:
    JOURNAL.append(key, f"book {item}")
    return f"{item}-booking"


@tasks.bind(provides="charged")
def charge_graph(key: str, ticket: str, amount: int) -> str:
    JOURNAL.append(key, f"charge {amount} for {ticket}")
    if amount > 100:
        raise ValueError(f"card declined for {amount}")
    return "charged"


# -- sub-flows with retry strategies (streams/subflows.py) ----------------------------------------


@tasks.bind()
def pay(previous: Any, key: str, failures: int) -> str:
    calls = CALLS.increment(f"{key}-pay")
    JOURNAL.append(key, f"pay #{calls}")
    if calls <= failures:
        raise ValueError(f"declined #{calls}")
    return f"paid on attempt {calls}"


@tasks.bind()
def connect(host: str) -> str:
    if host.startswith("down"):
        raise ConnectionError(f"{host} is down")
    return f"connected to {host}"


@tasks.bind()
def hosts_of(region: str) -> dict[str, Any]:
    return {"hosts": [f"down-{region}-1", f"{region}-2", f"{region}-3"]}


@tasks.bind()
def all_down(previous: Any) -> list[str]:
    return ["down-1", "down-2"]


# -- notifications (tasks.on) -----------------------------------------------------------------------


@tasks.on("task.started")
@tasks.on("task.failed")
def note_transition(event: Any) -> None:
    """Runs wherever the transition is seen: the worker process over Kafka, here in-process."""
    JOURNAL.append(f"transitions-{event.pipeline_id}", f"{event.task_status} {event.task_name.rsplit('.', 1)[-1]}")


# -- SLAs (@tasks.bind(sla=...)) ------------------------------------------------------------------


@tasks.bind()
def linger(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@tasks.bind(sla=0.2)
def prompt(x: Any) -> Any:
    return x


@tasks.bind(sla=1.0, worker_name="nobody")
def unserved(x: Any) -> Any:
    """No worker serves the worker name `nobody`: it never starts."""
    return x


@tasks.on("task.sla_missed")
def note_sla_missed(event: Any) -> None:
    JOURNAL.append(f"sla-{event.pipeline_id}", f"{event.task_name.rsplit('.', 1)[-1]} {event.sla_s}")


@tasks.bind(sla=0.2)
def slow_prompt(seconds: float) -> float:
    """Starts at once, then runs past its SLA: no SlaMissed (the SLA is about starting)."""
    import time

    time.sleep(seconds)
    return seconds


# -- concurrency limits (@tasks.bind(concurrency=...)) ---------------------------------------------


@tasks.bind(concurrency=2)
async def guarded(key: str, seconds: float) -> str:
    """At most two runs at once, across pipelines: the journal shows each run's start and end.
    (Async: a worker runs plain functions one at a time unless they have a timeout.)"""
    JOURNAL.append(key, "+")
    await asyncio.sleep(seconds)
    JOURNAL.append(key, "-")
    return "done"


@tasks.bind()
def sync_nap(key: str, seconds: float) -> str:
    """A plain function: a worker runs several side by side (in its threads)."""
    import time

    JOURNAL.append(key, "+")
    time.sleep(seconds)
    JOURNAL.append(key, "-")
    return "rested"

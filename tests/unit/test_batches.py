"""agents/batches.py on a real faust stream (an agent's test context: no broker)."""
from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

from agents.batches import batches

NEVER_S = 30.0  # a gap no test waits out


def run_agent(max_size: int, gap_s: float, script: Any) -> list[list[int]]:
    """Run an agent taking `batches(stream, max_size, gap_s)` while `script(put, at_work, taken)`
    feeds it; the agent holds each batch until `at_work` is set. Returns the batches it took."""
    app = faust.App(f"batches-test-{id(script)}", broker="kafka://localhost:1", web_enabled=False)
    taken: list[list[int]] = []
    at_work = asyncio.Event()
    at_work.set()

    @app.agent(app.channel())
    async def agent(stream: Any) -> Any:
        async for batch in batches(stream, max_size, gap_s):
            taken.append([event.value for event in batch])
            await at_work.wait()
            yield len(batch)

    async def main() -> None:
        async with agent.test_context() as context:
            async def put(value: int) -> None:
                await context.put(value, wait=False)
            await asyncio.wait_for(script(put, at_work, taken), NEVER_S)

    asyncio.run(main())
    return taken


async def until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_an_event_finding_the_agent_idle_goes_at_once_without_waiting_for_the_gap() -> None:
    async def script(put: Any, at_work: asyncio.Event, taken: list[list[int]]) -> None:
        await put(1)
        await until(lambda: taken)  # (waiting for the gap would time out)

    assert run_agent(10, NEVER_S, script) == [[1]]


def test_events_arriving_while_a_batch_is_worked_on_gather_into_the_next_up_to_max_size() -> None:
    async def script(put: Any, at_work: asyncio.Event, taken: list[list[int]]) -> None:
        at_work.clear()
        await put(0)
        await until(lambda: taken)
        for value in range(1, 6):
            await put(value)
        at_work.set()  # a full batch goes at once, the rest after the gap
        await until(lambda: sum(map(len, taken)) == 6)

    assert run_agent(3, 0.2, script) == [[0], [1, 2, 3], [4, 5]]


def test_a_busy_agents_next_batch_gathers_for_the_gap() -> None:
    async def script(put: Any, at_work: asyncio.Event, taken: list[list[int]]) -> None:
        await put(0)
        await until(lambda: taken)
        await put(1)  # within the gap after batch [0]: gathered with 2, not sent alone
        await asyncio.sleep(0.05)
        await put(2)
        await until(lambda: sum(map(len, taken)) == 3)

    assert run_agent(10, 2.0, script) == [[0], [1, 2]]


@pytest.mark.parametrize("max_size", [1, 4, 1000])
def test_every_event_is_taken_once_in_order(max_size: int) -> None:
    async def script(put: Any, at_work: asyncio.Event, taken: list[list[int]]) -> None:
        for value in range(50):
            await put(value)
            if value % 7 == 0:
                await asyncio.sleep(0.01)
        await until(lambda: sum(map(len, taken)) >= 50)

    taken = run_agent(max_size, 0.01, script)
    assert [value for batch in taken for value in batch] == list(range(50))
    assert max(map(len, taken)) <= max_size


def test_an_idle_agent_takes_the_events_handed_over_together_in_one_batch() -> None:
    async def script(put: Any, at_work: asyncio.Event, taken: list[list[int]]) -> None:
        for value in range(5):  # as faust hands over one fetch's records
            await put(value)
        await until(lambda: sum(map(len, taken)) == 5)

    assert run_agent(10, NEVER_S, script) == [[0, 1, 2, 3, 4]]

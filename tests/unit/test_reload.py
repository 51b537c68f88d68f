"""The pass over the table after partitions move: in slices, skipping what batches changed,
stopping when partitions move again."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from agents.reload import Reload


def slow_table(n: int, seconds_each: float = 0.001) -> Iterator[tuple[bytes, Any]]:
    """A table whose states take a while to read, as unpickling them does."""
    for i in range(n):
        time.sleep(seconds_each)
        yield b"p%d" % i, i


def test_a_pass_visits_every_state_and_is_then_done():
    reload = Reload()
    visited: list[bytes] = []
    assert asyncio.run(reload.run(slow_table(20, 0), lambda key, state: visited.append(key)))
    assert visited == [b"p%d" % i for i in range(20)] and reload.done


def test_the_event_loop_runs_between_slices_of_a_long_pass():
    reload = Reload(slice_s=0.01)
    ticks: list[int] = []  # when a concurrent task got the loop, in states visited by then
    visited: list[bytes] = []

    async def main() -> None:
        async def ticker() -> None:
            while True:
                ticks.append(len(visited))
                await asyncio.sleep(0)

        other = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        assert await reload.run(slow_table(100), lambda key, state: visited.append(key))
        other.cancel()

    asyncio.run(main())
    assert len(visited) == 100
    assert any(0 < at < 100 for at in ticks)  # it ran while the pass was under way


def test_states_a_batch_changed_since_the_rebalance_are_skipped():
    reload = Reload(slice_s=0.005)
    visited: list[bytes] = []

    async def main() -> None:
        async def batch() -> None:  # changes p50 while the pass reads p0, p1, ...
            await asyncio.sleep(0.01)
            reload.changed(b"p50")

        changes = asyncio.create_task(batch())
        reload.changed(b"p3")  # before the pass began
        assert await reload.run(slow_table(100), lambda key, state: visited.append(key))
        await changes

    asyncio.run(main())
    assert b"p3" not in visited and b"p50" not in visited and len(visited) == 98
    reload.changed(b"p7")  # once done, a change needs no note: the next pass starts afresh
    assert reload.done


def test_partitions_moving_during_a_pass_stop_it_before_it_reads_on():
    reload = Reload(slice_s=0.005)
    read: list[int] = []

    def table() -> Iterator[tuple[bytes, Any]]:
        for key, state in slow_table(200):
            read.append(state)
            yield key, state

    async def main() -> bool:
        async def rebalance() -> None:
            await asyncio.sleep(0.02)
            reload.restart()

        moving = asyncio.create_task(rebalance())
        finished = await reload.run(table(), lambda key, state: None)
        await moving
        return finished

    assert not asyncio.run(main())
    assert not reload.done and not reload.running and 0 < len(read) < 200
    # The next assignment's pass runs to the end.
    assert asyncio.run(reload.run(slow_table(5, 0), lambda key, state: None)) and reload.done

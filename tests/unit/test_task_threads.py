"""The worker's task threads (streams/task_threads.py): results, errors, and how many at once."""
from __future__ import annotations

import asyncio
import threading

import pytest

from streams.task_threads import TaskThreads


def run(coroutine):
    return asyncio.run(coroutine)


def test_results_and_exceptions_come_back_to_the_awaiting_coroutine():
    threads = TaskThreads(4)

    def divide(a, b):
        return a / b

    async def main():
        futures = [threads.run(divide, i, 2) for i in range(1000)]
        assert await asyncio.gather(*futures) == [i / 2 for i in range(1000)]
        with pytest.raises(ZeroDivisionError):
            await threads.run(divide, 1, 0)
        assert threading.current_thread().name == "MainThread"

    run(main())
    threads.shutdown()


def test_as_many_run_at_once_as_there_are_threads_and_no_more():
    threads = TaskThreads(3)

    def meet(barrier):
        barrier.wait()  # returns once `parties` calls are waiting at the same time
        return threading.current_thread().name

    async def main():
        together = threading.Barrier(3, timeout=5)
        names = await asyncio.gather(*[threads.run(meet, together) for _ in range(3)])
        assert len(set(names)) == 3 and all(n.startswith("kafka-tasks-task") for n in names)
        one_too_many = threading.Barrier(4, timeout=0.5)
        outcomes = await asyncio.gather(*[threads.run(meet, one_too_many) for _ in range(4)], return_exceptions=True)
        assert all(isinstance(o, threading.BrokenBarrierError) for o in outcomes)  # (4 threads: all 4 meet)

    run(main())
    threads.shutdown()


def test_a_cancelled_call_runs_on_and_its_result_is_dropped():
    threads = TaskThreads(1)
    release = threading.Event()
    finished = threading.Event()

    def slow():
        release.wait(5)
        finished.set()
        return "late"

    async def main():
        future = threads.run(slow)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(future, 0.05)  # cancels it, as a task's timeout does
        release.set()
        assert await asyncio.wait_for(threads.run(lambda: "next"), 5) == "next"  # the same thread, after slow() ended
        assert finished.is_set()

    run(main())
    threads.shutdown()

"""The threads a worker runs plain task functions in, handing results back to its event loop.

`loop.run_in_executor` costs about 150 µs of CPU per call on this kind of machine (a concurrent
future, its asyncio wrapper, a wake-up of the loop per result): more than a quick task itself and
most of a worker's time in a wide fan-out. Here each thread takes the next job from one queue
without being handed it, and results come back in batches: a thread that finishes while the loop
has not yet picked up earlier results adds to them instead of waking it again.
"""
from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_STOP = object()


class TaskThreads:
    """`size` threads, started with the first job."""

    def __init__(self, size: int, name: str = "kafka-tasks-task") -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._done: deque[tuple[asyncio.Future[Any], bool, Any]] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """`fn(*args)` in one of the threads; the future has its result or exception. Cancelling
        the future does not stop the call (a thread cannot be stopped): its result is dropped."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future = loop.create_future()
        if not self._threads:
            self._threads = [threading.Thread(target=self._serve, name=f"{self.name}_{i}", daemon=True)
                             for i in range(self.size)]
            for thread in self._threads:
                thread.start()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Let each thread end after its current job (jobs still queued are not run)."""
        for _ in self._threads:
            self._jobs.put(_STOP)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            future, fn, args = job
            try:
                outcome = (future, True, fn(*args))
            except BaseException as error:  # handed to the awaiting coroutine, as an executor would
                outcome = (future, False, error)
            del job, future, fn, args  # drop references before waiting for the next job
            self._done.append(outcome)
            del outcome
            with self._lock:
                wake = not self._wake_pending
                self._wake_pending = True
            if wake:
                try:
                    self._loop.call_soon_threadsafe(self._deliver)  # type: ignore[union-attr]
                except RuntimeError:  # the loop has closed: nobody awaits the result any more
                    return

    def _deliver(self) -> None:
        # The flag is cleared before draining: a result appended after this point either is
        # drained below or wakes the loop again.
        with self._lock:
            self._wake_pending = False
        while self._done:
            future, ok, value = self._done.popleft()
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

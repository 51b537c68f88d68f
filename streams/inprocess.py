"""The in-process driver: the orchestrator's fold/decide and the worker's executor, wired by
two queues instead of Kafka topics. For tests and debugging; same engine, same results.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from events.codec import Codec
from events.decide import decide, next_wakeup, react
from events.errors import ActionRejectedError
from events.messages import (
    INPUT_TYPES,
    Action,
    Event,
    PipelineActionApplied,
    PipelineActionRequested,
    PipelineFinished,
    PipelineStatusChanged,
    PipelineSubmitted,
    ScheduleDefined,
    SubmissionRejected,
    TaskRequested,
    schedule_key,
)
from events.schedule import ScheduleState
from events.state import PipelineState
from events.status import PipelineStatus
from streams.builder import PipelineBuilder
from streams.errors import TaskError
from streams.executor import execute, started

if TYPE_CHECKING:
    from streams.app import KafkaTasks


class InProcessRunner:
    """Runs pipelines to completion (or until paused) in this process, one task at a time."""

    def __init__(
        self,
        tasks: KafkaTasks,
        clock: Callable[[], float] = time.time,
        codec: Codec | None = None,
    ) -> None:
        """
        Args:
            tasks: the registry whose functions run the tasks.
            clock: the orchestrator's time, seconds since the epoch (retry delays, schedule slots).
            codec: when given, every event crosses it as bytes, exactly as it would cross Kafka.
        """
        self.tasks = tasks
        self.clock = clock
        self._wire: Callable[[Any], Any] = (
            (lambda event: codec.decode(codec.encode(event))) if codec else (lambda event: event)
        )
        self.states: dict[str, PipelineState | None] = {}
        self.published: list[Event] = []  # everything decided, in order: the status topic's view
        self._inbox: deque[Any] = deque()
        self._work: deque[TaskRequested] = deque()
        self._finished: dict[str, PipelineFinished] = {}
        self._rejected: dict[str, SubmissionRejected] = {}
        self._answers: dict[str, PipelineActionApplied] = {}

    # -- async API ---------------------------------------------------------------------------

    async def start_async(self, pipeline: PipelineBuilder) -> str:
        """Submit `pipeline` and run until it finishes or cannot go on (paused); return its id."""
        pipeline.validate()
        submission_id = str(uuid.uuid4())
        submitted = PipelineSubmitted(pipeline.id, submission_id, pipeline.to_spec())
        self._inbox.append(self._wire(submitted))
        await self.run_until_idle_async()
        rejected = self._rejected.pop(submission_id, None)
        if rejected is not None:
            raise ActionRejectedError(rejected.message)
        return pipeline.id

    async def result_async(self, pipeline_id: str, timeout: float | None = None) -> Any:
        await self.run_until_idle_async(timeout)
        finished = self._finished.get(pipeline_id)
        if finished is None:
            raise RuntimeError(
                f"pipeline {pipeline_id} is {self.status(pipeline_id).name} and cannot go on by "
                "itself: unpause or cancel it first"
            )
        if finished.error is not None:
            raise TaskError.of(finished.error, pipeline_id, finished.state, finished.status, finished.revert_failures)
        return finished.result

    async def action_async(self, pipeline_id: str, action: Action) -> None:
        action_id = str(uuid.uuid4())
        self._inbox.append(PipelineActionRequested(pipeline_id, action_id, action))
        await self.run_until_idle_async()
        answer = self._answers.pop(action_id)
        if not answer.accepted:
            raise ActionRejectedError(answer.message)

    async def run_until_idle_async(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else self.clock() + timeout
        while True:
            self._fold_inbox()
            # Due timers first, also between tasks: a run waiting behind a long one misses its SLA.
            if self._fire_due():
                continue
            if self._work:
                request = self._work.popleft()
                self.tasks.listeners.dispatch(started(request))
                if request.sla_s is not None:  # as a worker reports it to the orchestrator
                    self._inbox.append(self._wire(started(request)))
                    self._fold_inbox()
                outcome = await execute(self.tasks, request)
                self._inbox.append(self._wire(outcome))
                continue
            # Schedules always have a next slot: waiting for it would never end. They fire when
            # the clock has reached them (a test's clock moves on, then calls run_due()).
            wake = min(
                (w for s in self.states.values() if not isinstance(s, ScheduleState) and (w := next_wakeup(s)) is not None),
                default=None,
            )
            if wake is None:
                return
            if deadline is not None and wake > deadline:
                raise TimeoutError("pipeline did not finish in time (a retry is still scheduled)")
            await asyncio.sleep(max(0.0, wake - self.clock()))
            for pipeline_id, state in list(self.states.items()):
                self.states[pipeline_id], commands = decide(state, self.clock())
                self._route(commands)

    def _fire_due(self) -> bool:
        """Decide every pipeline and schedule with something due by the clock now."""
        now, fired = self.clock(), False
        for key, state in list(self.states.items()):
            wake = next_wakeup(state)
            if wake is not None and wake <= now:
                self.states[key], commands = decide(state, now)
                self._route(commands)
                fired = True
        return fired

    async def add_schedule_async(self, schedule: ScheduleDefined) -> None:
        self._inbox.append(self._wire(schedule))
        await self.run_until_idle_async()

    # -- sync API, for scripts and tests -----------------------------------------------------

    def add_schedule(self, schedule: ScheduleDefined) -> None:
        """Start `schedule` (from `tasks.schedule(...)`) on this runner's clock: from then on,
        `run_due()` runs the slots the clock has passed."""
        asyncio.run(self.add_schedule_async(schedule))

    def run_due(self) -> None:
        """Run whatever is due by the clock now (schedule slots, retries) until idle."""
        asyncio.run(self.run_until_idle_async())

    def pause_schedule(self, name: str) -> None:
        asyncio.run(self.action_async(schedule_key(name), Action.PAUSE))

    def resume_schedule(self, name: str) -> None:
        asyncio.run(self.action_async(schedule_key(name), Action.UNPAUSE))

    def remove_schedule(self, name: str) -> None:
        asyncio.run(self.action_async(schedule_key(name), Action.CANCEL))

    def schedule_runs(self, name: str) -> list[str]:
        """The pipeline ids of the runs `name` has started, in order."""
        prefix = f"{name}@"
        return [e.pipeline_id for e in self.published
                if isinstance(e, PipelineSubmitted) and e.pipeline_id.startswith(prefix) and e.parent is None]

    def start(self, pipeline: PipelineBuilder) -> str:
        return asyncio.run(self.start_async(pipeline))

    def result(self, pipeline_id: str, timeout: float | None = None) -> Any:
        return asyncio.run(self.result_async(pipeline_id, timeout))

    def run(self, pipeline: PipelineBuilder) -> Any:
        return self.result(self.start(pipeline))

    def pause(self, pipeline_id: str) -> None:
        asyncio.run(self.action_async(pipeline_id, Action.PAUSE))

    def unpause(self, pipeline_id: str) -> None:
        asyncio.run(self.action_async(pipeline_id, Action.UNPAUSE))

    def cancel(self, pipeline_id: str) -> None:
        asyncio.run(self.action_async(pipeline_id, Action.CANCEL))

    def status(self, pipeline_id: str) -> PipelineStatus:
        state = self.states.get(pipeline_id)
        return state.status if state is not None else PipelineStatus.PENDING

    def status_history(self, pipeline_id: str) -> list[PipelineStatus]:
        return [
            e.status
            for e in self.published
            if isinstance(e, PipelineStatusChanged) and e.pipeline_id == pipeline_id
        ]

    # -- plumbing ----------------------------------------------------------------------------

    def _fold_inbox(self) -> None:
        while self._inbox:
            event = self._inbox.popleft()
            pipeline_id = event.pipeline_id
            self.states[pipeline_id], commands = react(self.states.get(pipeline_id), event, self.clock())
            self._route(commands)

    def _route(self, commands: list[Event]) -> None:
        for command in map(self._wire, commands):
            if isinstance(command, TaskRequested):
                self._work.append(command)
                continue
            self.published.append(command)
            self.tasks.listeners.dispatch(command)
            if isinstance(command, INPUT_TYPES):
                self._inbox.append(command)
            elif isinstance(command, PipelineFinished):
                self._finished[command.pipeline_id] = command
            elif isinstance(command, SubmissionRejected):
                self._rejected[command.submission_id] = command
            elif isinstance(command, PipelineActionApplied):
                self._answers[command.action_id] = command

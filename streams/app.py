"""KafkaTasks: the task registry and the entry point users hold."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from events.errors import UnknownTaskError
from events.messages import ScheduleDefined
from streams.builder import PipelineBuilder
from streams.notifications import Listeners
from streams.retry import RetryPolicy
from streams.schedule import declare_schedule
from streams.subflows import register_subflow_task
from streams.task import BoundTask


class KafkaTasks:
    """The registry of tasks for one application.

    Args:
        app_id: names the application; prefixes its Kafka topics and consumer groups.
        default_worker_name: worker (request topic) for tasks that do not name one.
    """

    def __init__(self, app_id: str, default_worker_name: str | None = None) -> None:
        if not app_id or not app_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(
                f"app_id {app_id!r} must be letters, digits, '-', '_' or '.': it names Kafka topics"
            )
        self.app_id = app_id
        self.default_worker_name = default_worker_name
        self._tasks: dict[str, BoundTask] = {}
        self.schedules: dict[str, ScheduleDefined] = {}
        self.listeners = Listeners()
        register_subflow_task(self)  # the builtin task that runs sub-flow attempts (streams/subflows.py)

    def bind(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        with_state: bool = False,
        is_fruitful: bool = True,
        retry_policy: RetryPolicy | None = None,
        worker_name: str | None = None,
        display_name: str | None = None,
        with_context: bool = False,
        module_name: str | None = None,
        timeout: float | None = None,
        revert: Callable[..., Any] | None = None,
        provides: str | None = None,
        requires: list[str] | None = None,
        sla: float | None = None,
        concurrency: int | None = None,
    ) -> Any:
        """Register a function as a task: `@tasks.bind()` (or `@tasks.bind`).

        Args:
            with_state: the pipeline state comes in as the first argument (after the context) and
                the function returns `(new_state, *results)`.
            is_fruitful: False drops the result: the next step receives nothing from this one.
            retry_policy: retry failures before the pipeline sees them.
            worker_name: run on workers of this name (a request topic, like a Celery queue).
            display_name: a friendly name for events and dashboards.
            with_context: a `TaskContext` comes in as the first argument.
            module_name: publish the task as `module_name.function` instead of its real module.
            timeout: seconds a run may take; then it fails with `TaskTimeoutError` (retryable
                through a `RetryPolicy` that names it). An async function is cancelled; a plain
                function runs in a thread that Python cannot stop: it is abandoned (runs on, its
                result dropped), so prefer async functions or `tasks.command` for hard limits.
            revert: undoes the task (OpenStack TaskFlow's revert): if the pipeline fails unhandled,
                the reverts of its completed tasks run, latest first, each with its task's
                arguments and `result=` its result; the pipeline ends REVERTED (or REVERT_FAILED)
                and the caller gets the original error. A function (registered as a task here,
                with the same worker name) or a task already bound.
            provides / requires: in a `graph([...])` (OpenStack TaskFlow's graph flow), the name
                its result is known by, and the names of its inputs (default: its parameters).
            sla: seconds a run may wait for a worker; past that, a `SlaMissed` event goes to the
                status topic (`tasks.on("task.sla_missed")`) and the run goes on.
            concurrency: at most this many runs of the task at once, across every pipeline and
                worker (the orchestrator holds the others back, oldest first: events/limiter.py).
        """
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be 1 or more, not {concurrency}")

        def register(func: Callable[..., Any]) -> BoundTask:
            name = f"{module_name or func.__module__}.{func.__qualname__}"
            undo = None if revert is None else self._revert_task(revert, name, worker_name)
            return self._add(
                BoundTask(
                    func,
                    name,
                    with_state=with_state,
                    is_fruitful=is_fruitful,
                    retry=retry_policy.to_spec() if retry_policy else None,
                    worker_name=worker_name or self.default_worker_name,
                    display_name=display_name,
                    with_context=with_context,
                    timeout=timeout,
                    revert=undo,
                    provides=provides,
                    requires=None if requires is None else tuple(requires),
                    sla=sla,
                    concurrency=concurrency,
                )
            )

        return register(fn) if fn is not None else register

    def _revert_task(self, revert: Callable[..., Any], task_name: str, worker_name: str | None) -> str:
        if isinstance(revert, BoundTask):
            return revert.name
        if not callable(revert):
            raise TypeError(f"revert of {task_name} must be a function or a bound task, not {revert!r}")
        name = f"{revert.__module__}.{revert.__qualname__}"
        if name not in self._tasks:
            self.bind(revert, worker_name=worker_name)
        return name

    def _add(self, task: BoundTask) -> BoundTask:
        self._tasks[task.name] = task
        return task

    def command(
        self,
        name: str,
        template: str,
        *,
        timeout: float | None = 3600.0,
        retry_policy: RetryPolicy | None = None,
        worker_name: str | None = None,
        display_name: str | None = None,
    ) -> BoundTask:
        """Register a shell command as a task (see `streams.command`): its `{placeholders}` are
        its parameters, stdout is its result, a non-zero exit fails it with stderr, and after
        `timeout` seconds (None: never) it is killed and fails with `TaskTimeoutError`.

        Args:
            name: the task's name, as requests carry it (unique in this app).
            template: the command line, e.g. ``"gzip -k {path}"``; values are shell-quoted.
        """
        from streams.command import command_function

        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already registered in app {self.app_id!r}: pick another name")
        retry = retry_policy.to_spec() if retry_policy else None
        return self._add(
            BoundTask(command_function(name, template, timeout), name, with_state=False, is_fruitful=True, retry=retry,
                      worker_name=worker_name or self.default_worker_name, display_name=display_name, with_context=False)
        )

    def on(self, pattern: str, callback: Callable[[Any], Any] | None = None) -> Any:
        """Call `callback(event)` on every task or pipeline transition matching `pattern`:
        `"task.failed"`, `"task.*"`, `"pipeline.completed"`, `"*"` (streams/notifications.py).
        Workers call it for the tasks they run, clients (`tasks.client(...)`) for everything on
        the status topic, the in-process runner for everything. Also a decorator:
        `@tasks.on("task.failed")`."""

        def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.listeners.add(pattern, fn)
            return fn

        return register(callback) if callback is not None else register

    def schedule(
        self,
        name: str,
        pipeline_or_task: Any,
        cron: str,
        start_date: datetime | float | None = None,
        end_date: datetime | float | None = None,
        active: bool = True,
        catch_up: bool = False,
    ) -> ScheduleDefined:
        """Declare a recurring run: `pipeline_or_task` at every slot of `cron` (UTC; five fields,
        or six with seconds last). Declaring runs nothing: `client.add_schedule(...)` or
        `kafka-tasks schedule add -A <module>` puts it on Kafka, where exactly one run happens per
        slot (the pipeline `name@<slot time>`), however many orchestrators run.

        Args:
            start_date / end_date: no slot before / after (a datetime without a time zone is UTC).
            active: False declares it paused (`resume` it later).
            catch_up: run every slot missed while the orchestrators were down or the schedule was
                paused, oldest first; by default only the latest missed slot runs.
        """
        if name in self.schedules:
            raise ValueError(f"a schedule named {name!r} is already declared in app {self.app_id!r}: pick another name")
        declared = declare_schedule(name, pipeline_or_task, cron, start_date, end_date, active, catch_up)
        self.schedules[name] = declared
        return declared

    def get_task(self, name: str) -> BoundTask:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTaskError(
                f"{name} is not a registered task of app {self.app_id!r}: import the module that "
                "defines it with @tasks.bind() in this worker (or check the task name)"
            ) from None

    @property
    def task_names(self) -> list[str]:
        return sorted(self._tasks)

    def client(self, bootstrap_servers: str, broker: str = "kafka", **settings: Any) -> Any:
        """A client of this app's deployment on Kafka (see `streams.client.KafkaTasksClient`)."""
        from streams.client import KafkaTasksClient
        from streams.settings import Settings

        return KafkaTasksClient(
            Settings(app_id=self.app_id, bootstrap_servers=bootstrap_servers, broker=broker, **settings),
            listeners=self.listeners,
        )

    def in_process(self, clock: Callable[[], float] | None = None) -> Any:
        """A driver that runs pipelines (and schedules) in this process, through the same engine
        as Kafka. `clock` (seconds since the epoch; default: time.time) is its time: a test moves
        its own clock forward to run a schedule's slots without waiting for them."""
        from streams.inprocess import InProcessRunner

        return InProcessRunner(self) if clock is None else InProcessRunner(self, clock)

    def run(self, pipeline: PipelineBuilder, timeout: float | None = None) -> Any:
        """Run `pipeline` in this process and return its result, or raise `TaskError`."""
        return asyncio.run(self.run_async(pipeline, timeout))

    async def run_async(self, pipeline: PipelineBuilder, timeout: float | None = None) -> Any:
        runner = self.in_process()
        pipeline_id = await runner.start_async(pipeline)
        return await runner.result_async(pipeline_id, timeout)

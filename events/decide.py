"""decide(state, now) -> (state, commands): what the orchestrator does next, as a pure function.

`evolve` leaves an agenda (a task finished, an action arrived, ...); decide works through it: it
walks chains forward past skipped entries, starts and aggregates groups, dispatches tasks, and
finishes the pipeline. Its commands are the events to publish; the returned state already records
them, so deciding twice never dispatches twice. Time comes in as `now`, never from a clock.
"""
from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

from immutables import Map

from events.errors import ChildPipelineFailed, PipelineDefinitionError
from events.fold import evolve
from events.limiter import LimiterState, decide_limiter
from events.messages import (
    SCHEDULE_KEY_PREFIX,
    Action,
    Event,
    InputRejected,
    ParentTask,
    PermitReleased,
    PermitRequested,
    PipelineActionApplied,
    PipelineActionRequested,
    PipelineFinished,
    PipelineStatusChanged,
    PipelineSubmitted,
    RetryScheduled,
    SlaMissed,
    SubmissionRejected,
    TaskFailed,
    TaskRequested,
    TasksSkipped,
    TaskStatusChanged,
    TaskSucceeded,
    child_pipeline_id,
)
from events.plan import GroupPlan
from events.schedule import ScheduleState, decide_schedule
from events.spec import (
    BUILTIN_FLATTEN,
    BUILTIN_GRAPH_INPUTS,
    BUILTIN_GRAPH_MERGE,
    BUILTIN_IDENTITY,
    EntryKind,
    TaskEntry,
    is_builtin,
)
from events.state import (
    NO_VALUE,
    ChainRun,
    Compensation,
    Failure,
    GroupRun,
    Outcome,
    PipelineState,
    Success,
    TaskRun,
    TaskStatus,
    Work,
)
from events.status import PipelineStatus, transition
from events.task_exception import TaskException, aggregate, cancelled, input_rejected

S = PipelineStatus


def decide(state: PipelineState | None, now: float) -> tuple[PipelineState | None, list[Event]]:
    if state is None:
        return None, []
    if isinstance(state, ScheduleState):
        return decide_schedule(state, now)  # type: ignore[return-value]
    if isinstance(state, LimiterState):
        return decide_limiter(state, now)  # type: ignore[return-value]
    if not state.agenda and not _due_timers(state, now):
        return state, []
    decision = _Decision(state, now)
    if state.timers:  # (most steps have none: a result in a fan-out)
        decision.fire_due_timers()
    if state.sla_due:
        decision.report_missed_slas()
    for item in state.agenda:
        decision.handle(item)
    return decision.finish(), decision.out


def react(state: PipelineState | None, event: object, now: float) -> tuple[PipelineState | None, list[Event]]:
    """One step of either driver: fold the event, then decide."""
    if state is None and isinstance(event, PipelineActionRequested):
        return None, [_unknown_pipeline(event)]
    if state is None and isinstance(event, InputRejected):
        # Most likely a submission nobody could read (a foreign client's bad framing or schema):
        # its sender waits on the default replies topic, keyed by the pipeline id it chose.
        return None, [SubmissionRejected(event.pipeline_id, "", event.reason)]
    return decide(evolve(state, event), now)


def _unknown_pipeline(event: PipelineActionRequested) -> PipelineActionApplied:
    if event.pipeline_id.startswith(SCHEDULE_KEY_PREFIX):
        name = event.pipeline_id[len(SCHEDULE_KEY_PREFIX):]
        return PipelineActionApplied(event.pipeline_id, event.action_id, event.action, False,
                                     f"schedule {name} is unknown: add it first (or check the name)", event.reply_topic)
    if event.action is Action.STATUS:  # a pipeline not seen yet is pending, as in Flink Tasks
        return PipelineActionApplied(
            event.pipeline_id, event.action_id, event.action, True, S.PENDING.name, event.reply_topic
        )
    return PipelineActionApplied(
        event.pipeline_id,
        event.action_id,
        event.action,
        False,
        f"pipeline {event.pipeline_id} is unknown: submit it first (or check the id)",
        event.reply_topic,
    )


def next_wakeup(state: PipelineState | None) -> float | None:
    """When decide next has something to do without a new event (a retry falling due)."""
    if state is None:
        return None
    sla_due = getattr(state, "sla_due", None)  # (schedules have none)
    due = [*state.timers.values(), *(sla_due.values() if sla_due else ())]
    return min(due) if due else None


def merge_states(states: list[Any]) -> Any:
    """The state after a group: dicts merge with the earliest branch winning, else the first.

    Branches that never had a state (None) do not count, as in Flink Tasks' Java engine.
    """
    present = [s for s in states if s is not None]
    if not present:
        return None
    if all(type(s) is dict for s in present):
        merged: dict[str, Any] = {}
        for s in reversed(present):
            merged.update(s)
        return merged
    return present[0]


def _due_timers(state: PipelineState, now: float) -> bool:
    return any(due <= now for due in state.timers.values()) or any(due <= now for due in state.sla_due.values())


class _Decision:
    """Working copy of one state while deciding; `finish` freezes it again."""

    def __init__(self, state: PipelineState, now: float) -> None:
        self.base = state
        self.plan = state.plan
        self.now = now
        self.status = state.status
        self.chains = state.chains.mutate()
        self.groups = state.groups.mutate()
        self.tasks = state.tasks.mutate()
        self.held = state.held.mutate()
        self.next_held = state.next_held
        self.timers = state.timers.mutate()
        self.sla_due = state.sla_due.mutate()
        self.children = state.children.mutate()
        self.last_state = state.last_state
        self.outcome = state.outcome
        self.finished_at = state.finished_at
        self.started_at = state.started_at
        self.compensations = state.compensations.mutate()
        self.reverting = state.reverting
        self.revert_failures = state.revert_failures
        self.out: list[Event] = []
        self.skipped: list[str] = []
        self.ready: deque[int] = deque()  # chains to walk, iteratively: no deep recursion

    def finish(self) -> PipelineState:
        if self.skipped:
            self.out.append(TasksSkipped(self.base.pipeline_id, self.base.run, tuple(self.skipped)))
        return self.base.evolve(
            status=self.status,
            chains=self.chains.finish(),
            groups=self.groups.finish(),
            tasks=self.tasks.finish(),
            held=self.held.finish(),
            next_held=self.next_held,
            timers=self.timers.finish(),
            sla_due=self.sla_due.finish(),
            children=self.children.finish(),
            last_state=self.last_state,
            outcome=self.outcome,
            finished_at=self.finished_at,
            started_at=self.started_at,
            compensations=self.compensations.finish(),
            reverting=self.reverting,
            revert_failures=self.revert_failures,
            agenda=(),
        )

    # -- agenda ------------------------------------------------------------------------------

    def handle(self, item: tuple) -> None:
        kind = item[0]
        if kind is Work.REJECT_SUBMISSION:
            self.reject_submission(item[1])
        elif kind is Work.ACTION:
            self.apply_action(item[1])
        elif self.status.is_finished:
            return  # late work for a pipeline that has already ended
        elif kind is Work.START:
            self.start()
        elif kind is Work.TASK_DONE:
            self.task_done(item[1])
        elif kind is Work.SPAWN_CHILD:
            self.spawn_child(item[1], item[2])
        elif kind is Work.ABORT:
            self.abort(item[1])
        self.drain()

    def start(self) -> None:
        self.started_at = self.now
        spec = self.base.submission.spec
        initial = spec.initial
        parent = self.base.submission.parent
        if initial.has_state:
            state = initial.state
        elif spec.inline and parent is not None:
            state = parent.state  # an inline child continues from its parent task's state
        else:
            state = None
        value = initial.args if initial.has_args else NO_VALUE
        kwargs = initial.kwargs if initial.has_kwargs else None
        if self.plan.tasks:  # an all-empty pipeline completes without ever running
            self.set_status(S.RUNNING)
        self.last_state = state
        self.chains[0] = ChainRun(0, Success(value, state, kwargs))
        self.ready.append(0)

    def task_done(self, uid: str) -> None:
        run: TaskRun = self.tasks[uid]
        self.sla_due.pop(uid, None)  # over: whether its start was reported or not
        if run.request is not None and run.request.concurrency is not None:
            self.out.append(PermitReleased(run.request.task_name, (run.request.request_id,)))
        if run.request is not None:  # an orchestrator task's child, if any, is over
            self.children.pop(self.child_id_of(run), None)
        if self.status is S.REVERTING:
            self.revert_done(uid, run)
            return
        if self.status is S.CANCELLING:
            if uid == self.plan.finally_uid:
                self.tasks[uid] = TaskRun(TaskStatus.DONE, run.attempt)
                self.finish_pipeline(Failure(cancelled(self.base.pipeline_id), self.last_state))
            return
        outcome = run.outcome
        assert outcome is not None  # the fold records an outcome with every finished task
        task = self.plan.tasks[uid]
        if isinstance(outcome, Success):
            self.task_event(uid, task.entry.task_name, run.attempt, "SUCCEEDED")
        else:
            self.task_event(uid, task.entry.task_name, run.attempt, "FAILED", outcome.error.exception_message)
        if isinstance(outcome, Failure) and self.should_retry(run):
            self.schedule_retry(uid, run)
            return
        chain = self.chains[task.chain_id]
        if task.entry.revert is not None and isinstance(outcome, Success) and run.request is not None:
            self.remember_revert(task.entry.revert, run.request, outcome)
        if task.entry.kind is EntryKind.FINALLY:
            # A finally never changes the outcome, unless it fails itself.
            before = chain.before_finally
            assert before is not None
            outcome = before if isinstance(outcome, Success) else Failure(outcome.error, before.state)
        # Drop the request (memory); keep whether it failed: a handled failure shows as one.
        self.tasks[uid] = TaskRun(TaskStatus.DONE, run.attempt, failed=isinstance(run.outcome, Failure))
        self.chains[task.chain_id] = ChainRun(task.position + 1, outcome, chain.before_finally)
        if task.entry.is_wait or run.pause_after:
            self.pause_now()
        self.ready.append(task.chain_id)

    def child_id_of(self, run: TaskRun) -> str:
        request = run.request
        assert request is not None
        return child_pipeline_id(request.request_id)

    def spawn_child(self, uid: str, event: TaskSucceeded) -> None:
        run: TaskRun = self.tasks[uid]
        request = run.request
        assert request is not None and event.child is not None
        child_id = self.child_id_of(run)
        self.children[child_id] = uid
        parent = ParentTask(
            self.base.pipeline_id, self.base.run, uid, run.attempt, request.is_fruitful, event.state
        )
        self.out.append(
            PipelineSubmitted(
                pipeline_id=child_id,
                submission_id=request.request_id,
                spec=event.child,
                parent=parent,
                root_pipeline_id=self.base.root_pipeline_id,
            )
        )

    # -- retries -----------------------------------------------------------------------------

    def should_retry(self, run: TaskRun) -> bool:
        policy = run.request.retry if run.request else None
        return bool(policy and policy.matches(run.exception_mro) and run.attempt < policy.max_retries)

    def schedule_retry(self, uid: str, run: TaskRun) -> None:
        assert run.request is not None and run.request.retry is not None
        due = self.now + run.request.retry.delay_for(run.attempt + 1)
        self.tasks[uid] = TaskRun(TaskStatus.RETRY_WAIT, run.attempt, run.request)
        self.task_event(uid, run.request.task_name, run.attempt + 1, "RETRYING")
        self.timers[uid] = due
        self.out.append(RetryScheduled(self.base.pipeline_id, self.base.run, uid, run.attempt + 1, due))

    def fire_due_timers(self) -> None:
        timers = self.timers.finish()  # a MapMutation cannot be iterated: freeze, read, thaw
        self.timers = timers.mutate()
        due = sorted((at, uid) for uid, at in timers.items() if at <= self.now)
        for _, uid in due:
            del self.timers[uid]
            if self.status.is_finished or self.status is S.CANCELLING:
                continue
            run: TaskRun = self.tasks[uid]
            assert run.request is not None
            request = _replace_attempt(run.request, run.attempt + 1)
            self.tasks[uid] = TaskRun(TaskStatus.RUNNING, run.attempt + 1, request)
            self.send(request)

    # -- reverts (OpenStack TaskFlow) ----------------------------------------------------------

    def remember_revert(self, revert_task: str, request: TaskRequested, outcome: Success) -> None:
        # Keyed by completion number: the latest completed is undone first.
        self.compensations[len(self.compensations)] = Compensation(
            request.uid, revert_task, request.args, request.kwargs, outcome.value, outcome.state, request.worker_name
        )

    def start_reverting(self, failure: Failure) -> None:
        """The pipeline failed unhandled: undo its completed tasks one by one, latest first."""
        self.set_status(S.REVERTING)
        self.reverting = failure
        self.held = _empty_mutation()
        self.timers = _empty_mutation()
        self.ready.clear()
        self.revert_next()

    def revert_next(self) -> None:
        latest = len(self.compensations) - 1
        undo: Compensation = self.compensations[latest]
        del self.compensations[latest]
        request = TaskRequested(
            pipeline_id=self.base.pipeline_id,
            run=self.base.run,
            uid=f"{undo.uid}:revert",
            attempt=0,
            task_name=undo.revert_task,
            args=undo.args,
            kwargs={**undo.kwargs, "result": undo.result},
            state=undo.state,
            is_fruitful=False,
            worker_name=undo.worker_name,
            root_pipeline_id=self.base.root_pipeline_id,
        )
        self.tasks[request.uid] = TaskRun(TaskStatus.RUNNING, 0, request)
        self.out.append(request)
        self.task_event(undo.uid, self.plan.tasks[undo.uid].entry.task_name, 0, "REVERTING")

    def revert_done(self, uid: str, run: TaskRun) -> None:
        # A failed revert is recorded and the others still run: undo as much as can be undone.
        original = uid.removesuffix(":revert")
        task_name = self.plan.tasks[original].entry.task_name
        if isinstance(run.outcome, Failure) and run.request is not None:
            error = run.outcome.error
            self.revert_failures = (
                *self.revert_failures, f"{run.request.task_name}: {error.exception_type}: {error.exception_message}"
            )
            self.task_event(original, task_name, 0, "REVERT_FAILED", error.exception_message)
        else:
            self.task_event(original, task_name, 0, "REVERTED")
        self.tasks[uid] = TaskRun(TaskStatus.DONE, run.attempt)
        if len(self.compensations):
            self.revert_next()
            return
        assert self.reverting is not None
        self.end(self.reverting, S.REVERT_FAILED if self.revert_failures else S.REVERTED)

    # -- SLAs ----------------------------------------------------------------------------------

    def report_missed_slas(self) -> None:
        due = self.sla_due.finish()  # (a MapMutation cannot be iterated)
        self.sla_due = due.mutate()
        for uid, at in sorted(due.items(), key=lambda item: item[1]):
            if at > self.now:
                continue
            del self.sla_due[uid]
            run: TaskRun | None = self.tasks.get(uid)
            request = run.request if run is not None else None
            if request is not None and request.sla_s is not None:
                self.out.append(SlaMissed(self.base.pipeline_id, self.base.run, uid, request.task_name, request.attempt,
                                          request.sla_s, at - request.sla_s))

    # -- walking chains ----------------------------------------------------------------------

    def drain(self) -> None:
        while self.ready and not self.status.is_finished:
            self.advance(self.ready.popleft())

    def advance(self, chain_id: int) -> None:
        current: ChainRun = self.chains[chain_id]
        entries = self.plan.chains[chain_id].entries
        pos, outcome, before_finally = current.pos, current.outcome, current.before_finally
        while pos < len(entries):
            entry = entries[pos]
            failed = isinstance(outcome, Failure)
            if isinstance(entry, TaskEntry):
                if (failed and entry.kind is EntryKind.NORMAL) or (
                    not failed and entry.kind is EntryKind.EXCEPTIONALLY
                ):
                    self.skipped.append(entry.uid)
                    pos += 1
                    continue
                if is_builtin(entry.task_name):
                    assert isinstance(outcome, Success)
                    outcome = _builtin(entry, outcome)
                    pos += 1
                    continue
                if entry.kind is EntryKind.FINALLY:
                    before_finally = outcome
                self.chains[chain_id] = ChainRun(pos, outcome, before_finally)
                self.dispatch(entry, outcome)
                return
            group = self.plan.groups[entry.group_id]
            if failed:
                self.skipped.extend(group.task_uids)
                pos += 1
                continue
            assert isinstance(outcome, Success)
            if group.is_empty:  # an empty group replaces the previous result with []
                outcome = Success([], outcome.state)
                pos += 1
                continue
            self.chains[chain_id] = ChainRun(pos, outcome, before_finally)
            self.start_group(group, outcome)
            return
        self.chains[chain_id] = ChainRun(pos, outcome, before_finally, done=True)
        self.chain_done(chain_id, outcome)

    def dispatch(self, entry: TaskEntry, outcome: Outcome) -> None:
        args: tuple[Any, ...]
        kwargs = entry.kwargs
        if entry.kind is EntryKind.EXCEPTIONALLY:
            assert isinstance(outcome, Failure)
            args = (outcome.error, *entry.args)
        elif entry.kind is EntryKind.FINALLY:
            args = entry.args  # a finally gets no previous result, only its own arguments
        elif entry.requires is not None:  # a graph step: its inputs by name, from the store
            assert isinstance(outcome, Success)
            store = outcome.value if type(outcome.value) is dict else {}
            args = entry.args
            kwargs = {**{name: store[name] for name in entry.requires if name in store}, **entry.kwargs}
        else:
            assert isinstance(outcome, Success)
            # The previous result goes first: a tuple spreads, anything else is one argument.
            value = outcome.value
            args = (*value, *entry.args) if type(value) is tuple else (value, *entry.args)
            if outcome.kwargs:
                kwargs = {**outcome.kwargs, **entry.kwargs}  # kwargs bound on the task win
        request = TaskRequested(
            pipeline_id=self.base.pipeline_id,
            run=self.base.run,
            uid=entry.uid,
            attempt=0,
            task_name=entry.task_name,
            args=args,
            kwargs=kwargs,
            state=outcome.state,
            is_fruitful=entry.is_fruitful and entry.kind is not EntryKind.FINALLY,
            retry=entry.retry,
            worker_name=entry.worker_name,
            display_name=entry.display_name,
            root_pipeline_id=self.base.root_pipeline_id,
            sla_s=entry.sla_s,
            concurrency=entry.concurrency,
        )
        self.tasks[entry.uid] = TaskRun(TaskStatus.RUNNING, 0, request)
        self.send(request)

    def send(self, request: TaskRequested) -> None:
        if self.status is S.PAUSED:
            self.held[self.next_held] = request
            self.next_held += 1
        else:
            # A limited task goes through its limiter, which sends it on when a permit is free.
            self.out.append(request if request.concurrency is None else PermitRequested(request, request.concurrency))
            self.task_event(request.uid, request.task_name, request.attempt, "REQUESTED")
            if request.sla_s is not None:
                self.sla_due[request.uid] = self.now + request.sla_s

    def task_event(self, uid: str, task_name: str, attempt: int, status: str, message: str = "") -> None:
        """A task's transition, for the status topic (notifications)."""
        self.out.append(TaskStatusChanged(self.base.pipeline_id, self.base.run, uid, task_name, attempt, status, message))

    def start_group(self, group: GroupPlan, outcome: Success) -> None:
        width = len(group.chain_ids)
        limit = group.entry.max_parallelism or width
        started = min(limit, width)
        self.groups[group.entry.group_id] = GroupRun(outcome, started, 0)
        for chain_id in group.chain_ids[:started]:
            self.chains[chain_id] = ChainRun(0, outcome)  # every branch gets the same input
            self.ready.append(chain_id)

    def chain_done(self, chain_id: int, outcome: Outcome) -> None:
        group_id = self.plan.chains[chain_id].group_id
        if group_id is None:
            self.finish_pipeline(outcome)
            return
        group = self.plan.groups[group_id]
        run: GroupRun = self.groups[group_id]
        started, completed = run.started, run.completed + 1
        if started < len(group.chain_ids):  # max_parallelism: release one deferred branch
            released = group.chain_ids[started]
            self.chains[released] = ChainRun(0, run.input)
            self.ready.append(released)
            started += 1
        self.groups[group_id] = GroupRun(run.input, started, completed)
        if completed < len(group.chain_ids):
            return
        parent: ChainRun = self.chains[group.parent_chain]
        result = self.aggregate(group)
        self.chains[group.parent_chain] = ChainRun(
            group.position + 1, result, parent.before_finally
        )
        if group.entry.is_wait:
            self.pause_now()
        self.ready.append(group.parent_chain)

    def aggregate(self, group: GroupPlan) -> Outcome:
        outcomes: list[Outcome] = [self.chains[c].outcome for c in group.chain_ids]
        state = merge_states([o.state for o in outcomes])
        failures = [o.error for o in outcomes if isinstance(o, Failure)]
        if failures and not group.entry.return_exceptions:
            if group.entry.graph_level and len(failures) == 1:
                return Failure(failures[0], state)
            return Failure(aggregate(group.entry.group_id, failures), state)
        values = [o.value if isinstance(o, Success) else o.error for o in outcomes]
        return Success(values, state)

    def finish_pipeline(self, outcome: Outcome, aborted: bool = False) -> None:
        if self.status is S.CANCELLING and not aborted:
            outcome = Failure(cancelled(self.base.pipeline_id), outcome.state)
            status = S.CANCELLED
        elif isinstance(outcome, Failure) and not aborted and len(self.compensations):
            self.start_reverting(outcome)  # a cancel is no failure: nothing is undone
            return
        else:
            status = S.COMPLETED if isinstance(outcome, Success) else S.FAILED
        self.end(outcome, status)

    def end(self, outcome: Outcome, status: PipelineStatus) -> None:
        # Runs still out hold (or wait for) permits their outcomes will not release now.
        tasks = self.tasks.finish()
        self.tasks = tasks.mutate()
        permits: dict[str, list[str]] = {}
        for run in tasks.values():
            request = run.request
            if run.status in (TaskStatus.RUNNING, TaskStatus.AWAITING_CHILD) and request and request.concurrency:
                permits.setdefault(request.task_name, []).append(request.request_id)
        self.out.extend(PermitReleased(name, tuple(ids)) for name, ids in sorted(permits.items()))
        self.set_status(status)
        self.outcome = outcome
        self.finished_at = self.now
        self.held = _empty_mutation()
        self.timers = _empty_mutation()
        self.sla_due = _empty_mutation()
        self.compensations = _empty_mutation()
        self.ready.clear()
        self.out.append(self.reply(outcome, status))

    def reply(self, outcome: Outcome, status: PipelineStatus) -> Event:
        submission = self.base.submission
        parent = submission.parent
        if parent is None:
            return PipelineFinished(
                pipeline_id=self.base.pipeline_id,
                run=self.base.run,
                submission_id=submission.submission_id,
                status=status,
                result=outcome.value if isinstance(outcome, Success) else None,
                error=outcome.error if isinstance(outcome, Failure) else None,
                state=outcome.state,
                reply_topic=submission.reply_topic,
                revert_failures=self.revert_failures,
            )
        # A child answers the task that returned it. Isolated children hand back the state that
        # task returned; inline children hand back their own final state.
        state = outcome.state if submission.spec.inline else parent.state
        if isinstance(outcome, Success):
            result = outcome.value if parent.is_fruitful else NO_VALUE
            return TaskSucceeded(parent.pipeline_id, parent.run, parent.uid, parent.attempt, result, state)
        return TaskFailed(
            parent.pipeline_id,
            parent.run,
            parent.uid,
            parent.attempt,
            outcome.error,
            state,
            (outcome.error.exception_type, CHILD_PIPELINE_FAILED),
        )

    # -- status and actions ------------------------------------------------------------------

    def set_status(self, new: PipelineStatus) -> None:
        if new is self.status:
            return
        previous, self.status = self.status, transition(self.status, new)
        self.out.append(PipelineStatusChanged(self.base.pipeline_id, self.base.run, new, previous))

    def pause_now(self) -> None:
        if self.status in (S.PENDING, S.RUNNING):
            self.set_status(S.PAUSED)

    def apply_action(self, event: PipelineActionRequested) -> None:
        if event.action.is_query:
            self.answer_query(event)
            return
        if not self.status.accepts_actions:
            verb = "cancelled" if event.action is Action.CANCEL else "paused / un-paused"
            self.answer(
                event,
                False,
                f"Pipeline is not in a state that can be {verb}: it is {self.status.name}. "
                "Only pending, running or paused pipelines accept actions.",
            )
            return
        if event.action is Action.PAUSE:
            self.set_status(S.PAUSED)
        elif event.action is Action.UNPAUSE:
            self.set_status(S.RUNNING)
            held = self.held.finish()
            self.held = _empty_mutation()
            for seq in sorted(held.keys()):
                self.send(held[seq])
        self.answer(event, True)
        children = self.children.finish()
        self.children = children.mutate()
        for child_id in sorted(children.keys()):  # actions propagate to child pipelines
            self.out.append(
                PipelineActionRequested(child_id, f"{event.action_id}:{child_id}", event.action)
            )
        if event.action is Action.CANCEL:
            self.cancel()

    def cancel(self) -> None:
        self.set_status(S.CANCELLING)
        self.held = _empty_mutation()
        self.timers = _empty_mutation()
        self.ready.clear()
        finally_uid = self.plan.finally_uid
        if finally_uid is None:
            self.finish_pipeline(Failure(cancelled(self.base.pipeline_id), self.last_state))
            return
        finally_run = self.tasks.get(finally_uid)
        if finally_run is None:  # not reached yet: a finally runs even on cancel
            task = self.plan.tasks[finally_uid]
            start = Success(NO_VALUE, self.last_state)
            self.chains[task.chain_id] = ChainRun(task.position, start, start)
            self.dispatch(task.entry, start)
        # else: the finally is in flight; its outcome ends the pipeline as CANCELLED

    def abort(self, event: InputRejected) -> None:
        """The pipeline cannot go on: input it needed was rejected. It fails now, without its
        finally (its progress may be what could not be kept); tasks still in flight finish
        unheard, and child pipelines are cancelled."""
        children = self.children.finish()
        for child_id in sorted(children.keys()):
            action_id = f"{self.base.pipeline_id}:{self.base.run}:aborted:{child_id}"
            self.out.append(PipelineActionRequested(child_id, action_id, Action.CANCEL))
        self.children = _empty_mutation()
        if event.drop_progress:
            self.chains, self.groups, self.tasks = _empty_mutation(), _empty_mutation(), _empty_mutation()
            self.last_state = None
        self.finish_pipeline(Failure(input_rejected(self.base.pipeline_id, event.reason), self.last_state), aborted=True)

    def answer_query(self, event: PipelineActionRequested) -> None:
        if event.action is Action.STATUS:
            self.answer(event, True, self.status.name)
        elif self.outcome is None:
            self.answer(event, False, f"Task result not found: the pipeline is {self.status.name}")
        else:
            finished = self.reply(self.outcome, self.status)
            if isinstance(finished, PipelineFinished):
                self.out.append(replace(finished, reply_topic=event.reply_topic))
            self.answer(event, True)

    def answer(self, event: PipelineActionRequested, accepted: bool, message: str = "") -> None:
        self.out.append(
            PipelineActionApplied(
                event.pipeline_id, event.action_id, event.action, accepted, message, event.reply_topic
            )
        )

    def reject_submission(self, event: PipelineSubmitted) -> None:
        self.out.append(
            SubmissionRejected(
                pipeline_id=event.pipeline_id,
                submission_id=event.submission_id,
                message=(
                    f"Pipeline {event.pipeline_id} is {self.status.name}: pipelines must have "
                    "finished before they can be re-run. Wait for it or cancel it, or submit "
                    "under a new pipeline id."
                ),
                reply_topic=event.reply_topic,
            )
        )


# (events/ cannot import streams.retry's qualified_name: the same rule, written out.)
CHILD_PIPELINE_FAILED = f"{ChildPipelineFailed.__module__}.{ChildPipelineFailed.__qualname__}"


def _graph_inputs(previous: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    # A graph continuing a pipeline starts from the previous result when it is a dict; its own
    # inputs win.
    return {**(previous if type(previous) is dict else {}), **args[0]}


def _graph_merge(results: list[Any], names: tuple[Any, ...]) -> dict[str, Any]:
    store = dict(results[0])  # the identity branch: the store before the level
    store.update((name, value) for name, value in zip(names, results[1:], strict=True) if name)
    return store


def _builtin(entry: TaskEntry, outcome: Success) -> Outcome:
    """A builtin step's outcome. A malformed one (a pipeline built by hand, say in another
    language) fails its pipeline; it must never fail the orchestrator's batch."""
    try:
        return Success(_BUILTINS[entry.task_name](outcome.value, entry.args), outcome.state)
    except Exception as ex:
        message = (f"the builtin step {entry.task_name} cannot run on {type(outcome.value).__name__} with "
                   f"{len(entry.args)} argument(s): {ex!r}. Build graphs and staged groups with the Python "
                   "API (graph, in_parallel) or follow their specs exactly (docs/topics.md)")
        return Failure(TaskException(entry.uid, f"{PipelineDefinitionError.__module__}.PipelineDefinitionError", message, ""),
                       outcome.state)


# Steps the orchestrator computes itself, without a worker: (previous result, entry args) -> result.
_BUILTINS = {
    BUILTIN_FLATTEN: lambda value, _: [x for part in value for x in part],
    BUILTIN_IDENTITY: lambda value, _: value,
    BUILTIN_GRAPH_INPUTS: _graph_inputs,
    BUILTIN_GRAPH_MERGE: _graph_merge,
}


def _empty_mutation() -> Any:
    return Map().mutate()


def _replace_attempt(request: TaskRequested, attempt: int) -> TaskRequested:
    return replace(request, attempt=attempt)

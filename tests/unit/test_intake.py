"""The one step the orchestrator and replay both take from a record of the pipeline events topic:
bad records and states too large to store fail their pipeline, the same way on both paths."""
from __future__ import annotations

from faust.serializers import codecs

from events.codec import Codec
from events.messages import PipelineFinished, PipelineSubmitted, TaskRequested, TaskSucceeded
from events.status import PipelineStatus
from events.task_exception import INPUT_REJECTED_ERROR_TYPE
from streams import in_parallel
from streams.intake import STATE_CODEC, Intake, LogRecord, Step, Undecodable
from streams.replay import rebuild
from streams.settings import Settings
from tests.scenarios.catalogue import add, echo

S = PipelineStatus
DEAD_LETTERS = "app.dead-letters"


def record(value: bytes, key: bytes | None = b"p1", offset: int = 0) -> LogRecord:
    return LogRecord("app.pipeline-events", 2, offset, 1_000, key, value)


def test_bytes_that_are_not_an_event_name_the_pipeline_of_their_key_and_where_to_find_them():
    decoded = Intake(DEAD_LETTERS, 10**6).decode(record(b"{not avro}", offset=57))
    assert isinstance(decoded, Undecodable)
    assert decoded.error.startswith("not a Kafka Tasks event")
    assert decoded.verdict is not None and decoded.verdict.pipeline_id == "p1"
    assert "app.pipeline-events[2]@57" in decoded.verdict.reason and DEAD_LETTERS in decoded.verdict.reason
    assert not decoded.verdict.drop_progress


def test_bytes_that_are_not_an_event_under_no_usable_key_fail_nothing():
    intake = Intake(DEAD_LETTERS, 10**6)
    for key in (None, b"", b"\xff\xfe"):
        decoded = intake.decode(record(b"garbage", key=key))
        assert isinstance(decoded, Undecodable) and decoded.verdict is None


def take(intake: Intake, state, event) -> Step:
    """One event's step, then the store, as the orchestrator does for a batch of one."""
    state, decisions = intake.step(state, event, 0.0)
    sealed = intake.seal(state, 0.0)
    return Step(sealed.state, decisions + sealed.decisions, sealed.stored)


def test_a_state_within_the_limit_is_stored_as_the_table_stores_it():
    step = take(Intake(DEAD_LETTERS, 10**6), None, PipelineSubmitted("p1", "s1", add.send(1, 2).to_spec()))
    assert step.state is not None and step.state.status is S.RUNNING
    assert step.stored == codecs.dumps(STATE_CODEC, step.state)
    assert [type(d) for d in step.decisions if isinstance(d, TaskRequested)] == [TaskRequested]


def test_a_state_grown_past_the_limit_fails_its_pipeline_and_keeps_what_fits():
    intake = Intake(DEAD_LETTERS, 8_000)
    spec = in_parallel([echo.send(i) for i in range(3)]).to_spec()
    step = take(intake, None, PipelineSubmitted("p1", "s1", spec))
    first, second, _third = [d for d in step.decisions if isinstance(d, TaskRequested)]
    step = take(intake, step.state, TaskSucceeded("p1", 1, first.uid, 0, "x" * 3_000))
    assert step.state.status is S.RUNNING  # still fits
    step = take(intake, step.state, TaskSucceeded("p1", 1, second.uid, 0, "y" * 6_000))
    assert step.state.status is S.FAILED and not step.state.tasks
    assert len(step.stored) <= 8_000 and step.stored == codecs.dumps(STATE_CODEC, step.state)
    [finished] = [d for d in step.decisions if isinstance(d, PipelineFinished)]
    assert finished.error.exception_type == INPUT_REJECTED_ERROR_TYPE
    assert "over the 8,000 bytes" in finished.error.exception_message
    assert "max_state_bytes" in finished.error.exception_message
    assert not [d for d in step.decisions if isinstance(d, TaskRequested)]


def test_a_pipeline_that_ends_with_a_state_too_large_keeps_its_ending_without_its_progress():
    intake = Intake(DEAD_LETTERS, 6_000)
    step = take(intake, None, PipelineSubmitted("p1", "s1", echo.send(1).to_spec()))
    [request] = [d for d in step.decisions if isinstance(d, TaskRequested)]
    step = take(intake, step.state, TaskSucceeded("p1", 1, request.uid, 0, "z" * 2_000, "s" * 2_000))
    assert step.state.status is S.COMPLETED and not step.state.tasks
    [finished] = [d for d in step.decisions if isinstance(d, PipelineFinished)]
    assert finished.result == "z" * 2_000  # the caller still gets the result


def test_the_size_is_checked_when_a_batch_is_stored_not_after_every_event():
    # A wide pipeline's state is encoded once per batch: here it is over the limit only in the
    # middle of the batch, so the pipeline goes on.
    intake = Intake(DEAD_LETTERS, 9_000)
    step = take(intake, None, PipelineSubmitted("p1", "s1", echo.send(1).continue_with(echo).to_spec()))
    [request] = [d for d in step.decisions if isinstance(d, TaskRequested)]
    state, decisions = intake.step(step.state, TaskSucceeded("p1", 1, request.uid, 0, "w" * 8_000), 0.0)
    assert len(codecs.dumps(STATE_CODEC, state)) > 9_000  # the big result, and the request carrying it
    [follow_up] = [d for d in decisions if isinstance(d, TaskRequested)]
    state, more = intake.step(state, TaskSucceeded("p1", 1, follow_up.uid, 0, 8_000), 0.0)
    step = intake.seal(state, 0.0)
    assert step.state.status is S.COMPLETED
    [finished] = [d for d in decisions + more if isinstance(d, PipelineFinished)]
    assert finished.result == 8_000


def test_replay_fails_a_pipeline_for_a_bad_record_as_the_orchestrator_did():
    codec, intake = Codec(), Intake(DEAD_LETTERS, 10**6)
    submission = PipelineSubmitted("p1", "s1", add.send(1, 2).to_spec())
    log = [record(codec.encode(submission), offset=0), record(b"garbage", offset=1)]
    live, _ = intake.step(None, submission, 1.0)
    live = intake.seal(intake.step(live, intake.decode(log[1]).verdict, 1.0)[0], 1.0).state
    rebuilt = rebuild(log, Settings(app_id="app", max_state_bytes=10**6))
    assert rebuilt.states == {"p1": live} and live.status is S.FAILED
    assert (rebuilt.events, rebuilt.skipped) == (1, 1)


def test_a_finished_pipeline_whose_result_alone_is_too_large_keeps_why_instead_of_it():
    intake = Intake(DEAD_LETTERS, 6_000)
    step = take(intake, None, PipelineSubmitted("p1", "s1", echo.send(1).to_spec()))
    [request] = [d for d in step.decisions if isinstance(d, TaskRequested)]
    step = take(intake, step.state, TaskSucceeded("p1", 1, request.uid, 0, "r" * 7_000))
    assert step.state.status is S.COMPLETED and len(step.stored) <= 6_000
    assert "max_state_bytes" in step.state.outcome.error.exception_message
    [finished] = [d for d in step.decisions if isinstance(d, PipelineFinished)]
    assert finished.result == "r" * 7_000  # the reply was decided before the store


def test_replay_leaves_out_pipelines_finished_longer_than_the_retention_ago():
    codec, intake = Codec(), Intake(DEAD_LETTERS, 10**6)
    log, state = [], None
    for pipeline_id, at in (("old", 1_000), ("new", 5_000)):
        submission = PipelineSubmitted(pipeline_id, "s1", echo.send(1).to_spec())
        state, decisions = intake.step(None, submission, at / 1000)
        [request] = [d for d in decisions if isinstance(d, TaskRequested)]
        log += [LogRecord("app.pipeline-events", 0, len(log), at, pipeline_id.encode(), codec.encode(submission)),
                LogRecord("app.pipeline-events", 0, len(log) + 1, at, pipeline_id.encode(),
                          codec.encode(TaskSucceeded(pipeline_id, 1, request.uid, 0, 1)))]
    settings = Settings(app_id="app", finished_retention_s=2.0)
    assert set(rebuild(log, settings).states) == {"old", "new"}
    assert set(rebuild(log, settings, now=6.0).states) == {"new"}  # "old" finished 5 s before

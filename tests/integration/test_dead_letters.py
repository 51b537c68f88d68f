"""Bad input never stops an agent and is never dropped: each bad record lands on the dead-letters
topic, unchanged, with headers saying where it came from and why; where a pipeline is known it
fails with an error that says what to do; the next good pipeline runs as usual."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from events.codec import Codec
from events.errors import PayloadTooLargeError, UnknownTaskError, UnsupportedValueError
from events.messages import SubmissionRejected
from events.task_exception import INPUT_REJECTED_ERROR_TYPE
from streams import KafkaTasks, in_parallel
from streams.admin import consumer_config, producer_config
from streams.client import KafkaTasksClient
from streams.dead_letters import read_headers
from streams.errors import TaskError
from streams.replay import read_topic
from streams.settings import Settings
from streams.topics import Topics
from tests.integration.bad_input_app import echo, huge, lengths, sleep_then_echo, tasks, text_of, unsendable
from tests.processes import Processes

pytestmark = pytest.mark.kafka

# The same app id, but a task no worker of the app registered.
elsewhere = KafkaTasks(app_id=tasks.app_id)


@elsewhere.bind()
def not_deployed() -> None: ...


@pytest.fixture(scope="module")
def deployment(broker: Any, tmp_path_factory: Any) -> Iterator[tuple[Settings, KafkaTasksClient]]:
    settings = Settings(app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers, broker=broker.kind)
    connection = ["--app-id", tasks.app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    workdir = tmp_path_factory.mktemp("bad-input")
    processes = Processes(workdir)
    processes.spawn("orchestrator", "orchestrator", *connection, "--state-dir", str(workdir / "state"))
    processes.spawn("worker", "worker", "-A", "tests.integration.bad_input_app", *connection)
    client = KafkaTasksClient(settings)
    try:
        assert client.submit(echo.send(0)).result(120) == 0  # both joined
        yield settings, client
        processes.check_alive()  # bad input stopped neither
    finally:
        client.close()
        processes.stop_all()


def produce(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer(producer_config(settings))
    producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def dead_letter(settings: Settings, matches: Callable[[dict[str, str], bytes], bool]) -> tuple[dict[str, str], bytes]:
    """The first dead letter whose headers and value match, read from the topic's start."""
    consumer = Consumer(consumer_config(settings, f"dead-letter-reader-{uuid.uuid4()}"))
    consumer.subscribe([Topics(settings.app_id).dead_letters])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            headers = read_headers(message.headers())
            if matches(headers, message.value()):
                return headers, message.value()
        raise AssertionError("no matching dead letter within 60 s")
    finally:
        consumer.close()


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{\"json\": \"is not Avro\"}", b"\x00\x00\x00\x7f\xff" + b"unknown schema id", b"\x00\x00\x00\x00\x01\xff\xff"],
    ids=["empty", "json", "unknown-event-type", "corrupt-avro"],
)
def test_garbage_on_the_pipeline_events_topic_is_dead_lettered_and_the_orchestrator_goes_on(
    deployment: Any, garbage: bytes
) -> None:
    settings, client = deployment
    marker = str(uuid.uuid4()).encode()  # the key tells this record from earlier ones
    produce(settings, Topics(settings.app_id).pipeline_events, marker, garbage)
    assert client.submit(echo.send(7)).result(60) == 7
    headers, value = dead_letter(settings, lambda h, v: h["source-topic"].endswith("pipeline-events") and v == garbage
                                 and h["first-bytes"] == garbage[:32].hex())
    assert value == garbage
    assert "not a Kafka Tasks event" in headers["error"]
    assert int(headers["source-offset"]) >= 0 and int(headers["source-partition"]) >= 0
    # A foreign client that sent it waits for an answer on the replies topic, by its key.
    codec = Codec()
    answers = [codec.decode(r.value) for r in read_topic(settings, Topics(settings.app_id).replies) if r.key == marker]
    [rejected] = answers
    assert isinstance(rejected, SubmissionRejected) and rejected.submission_id == ""
    assert "not a Kafka Tasks event" in rejected.message and "dead-letters" in rejected.message


def test_garbage_on_a_request_topic_is_dead_lettered_and_the_worker_goes_on(deployment: Any) -> None:
    settings, client = deployment
    garbage = b"garbage " + str(uuid.uuid4()).encode()
    produce(settings, Topics(settings.app_id).requests(None), b"some-task-uid", garbage)
    assert client.submit(echo.send(8)).result(60) == 8
    headers, _ = dead_letter(settings, lambda h, v: v == garbage)
    assert headers["source-topic"] == Topics(settings.app_id).requests(None)
    assert "not a Kafka Tasks event" in headers["error"]


@pytest.mark.parametrize(
    ("pipeline", "error_type", "advice"),
    [
        (lambda: not_deployed.send(), UnknownTaskError, "import the module that defines it"),
        (lambda: unsendable.send(), UnsupportedValueError, ""),
        (lambda: huge.send(), PayloadTooLargeError, "Pass a reference instead"),
    ],
    ids=["unknown-task", "unsendable-result", "oversized-result"],
)
def test_a_request_no_worker_can_answer_fails_its_pipeline_and_is_dead_lettered(
    deployment: Any, pipeline: Callable[[], Any], error_type: type, advice: str
) -> None:
    settings, client = deployment
    handle = client.submit(pipeline())
    with pytest.raises(TaskError) as failure:
        handle.result(60)
    assert failure.value.exception_type.endswith(error_type.__name__)
    assert advice in str(failure.value)
    headers, _ = dead_letter(settings, lambda h, v: h["error"] == failure.value.message)
    assert headers["source-topic"] == Topics(settings.app_id).requests(None)
    assert client.submit(echo.send(9)).result(60) == 9


def test_a_bad_record_keyed_by_a_running_pipeline_fails_it_with_where_to_find_the_record(deployment: Any) -> None:
    settings, client = deployment
    handle = client.submit(sleep_then_echo.send(5, 1).continue_with(echo))
    garbage = b"not an event " + str(uuid.uuid4()).encode()
    produce(settings, Topics(settings.app_id).pipeline_events, handle.pipeline_id.encode(), garbage)
    with pytest.raises(TaskError) as failure:
        handle.result(60)
    assert failure.value.exception_type == INPUT_REJECTED_ERROR_TYPE
    assert Topics(settings.app_id).dead_letters in str(failure.value)
    assert "submit the pipeline again" in str(failure.value)
    headers, _ = dead_letter(settings, lambda h, v: v == garbage)
    assert headers["source-topic"] == Topics(settings.app_id).pipeline_events
    assert f"@{headers['source-offset']}" in str(failure.value)
    assert client.submit(echo.send(10)).result(60) == 10


def test_states_beyond_one_record_s_default_limit_are_stored_and_a_state_past_max_state_bytes_fails_its_pipeline(
    deployment: Any,
) -> None:
    _, client = deployment
    # About 2.4 MB of state (three results and the request they make), over the broker's 1 MB
    # default for a record: the changelog takes it.
    texts = in_parallel([text_of.send(300_000) for _ in range(3)]).continue_with(lengths)
    assert client.submit(texts).result(120) == [300_000] * 3
    # About 9.6 MB while a ninth branch still runs: over max_state_bytes (8 MB).
    big = in_parallel([text_of.send(900_000) for _ in range(8)] + [sleep_then_echo.send(5, 0)])
    with pytest.raises(TaskError) as failure:
        client.submit(big).result(120)
    assert failure.value.exception_type == INPUT_REJECTED_ERROR_TYPE
    assert "max_state_bytes" in str(failure.value)
    assert client.submit(echo.send(11)).result(60) == 11

"""Long-lived seed-engine oracle: JSON lines in (pipeline descriptions), JSON lines out (results).

Runs INSIDE the seed venv. It plays the part of the Flink runtime for statefun-tasks 0.9.93: it feeds
ToFunction invocations to the statefun SDK's RequestReplyHandler, keeps each function address's
persisted values, applies the returned state mutations and routes outgoing (and delayed) messages
back in, FIFO, until the reply-topic egress carries the pipeline's TaskResult / TaskException.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections import deque

# protocol output goes to the real stdout; anything a task prints must not corrupt it
_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
sys.stdout = sys.stderr
# statefun-tasks logs task failures at ERROR with no handler configured, which would spam stderr
logging.getLogger("FlinkTasks").addHandler(logging.NullHandler())
logging.getLogger("FlinkTasks").propagate = False

import tasks  # noqa: E402  (sibling module; the script's directory is sys.path[0])
from google.protobuf.any_pb2 import Any  # noqa: E402
from statefun import RequestReplyHandler, StatefulFunctions  # noqa: E402
from statefun.kafka_egress_pb2 import KafkaProducerRecord  # noqa: E402
from statefun.request_reply_pb2 import FromFunction, ToFunction, TypedValue  # noqa: E402
from statefun_tasks import TaskException, TaskResult  # noqa: E402
from statefun_tasks.messages_pb2 import PipelineState  # noqa: E402
from statefun_tasks.protobuf import unpack_any  # noqa: E402
from statefun_tasks.type_helpers import flink_value_type_for  # noqa: E402

REPLY_TOPIC = "seed.replies"
MAX_INVOCATIONS = 100_000  # guards against a pipeline that never reaches the egress

functions = StatefulFunctions()


@functions.bind(f"{tasks.NAMESPACE}/{tasks.WORKER}", specs=tasks.flink_tasks.value_specs())
async def worker(context, message):
    await tasks.flink_tasks.run_async(context, message)


handler = RequestReplyHandler(functions)
serialiser = tasks.flink_tasks._serialiser
SPEC_NAMES = [spec.name for spec in tasks.flink_tasks.value_specs()]
MODIFY = FromFunction.PersistedValueMutation.MutationType.Value("MODIFY")


class HarnessError(Exception):
    pass


async def run_pipeline(builder) -> tuple[TaskResult | TaskException, PipelineState | None]:
    """Drive one pipeline to its egress; returns the egress message and the root pipeline's final
    PipelineState. States live only for this pipeline (all ids are fresh uuids)."""
    states: dict[tuple, dict[str, TypedValue]] = {}
    request = builder.to_task_request(serialiser)
    request.reply_topic = REPLY_TOPIC
    first = TypedValue(typename=flink_value_type_for(request).typename, has_value=True,
                       value=request.SerializeToString())
    # (target namespace, type, id, caller address or None, TypedValue argument)
    queue = deque([((tasks.NAMESPACE, tasks.WORKER, request.id), None, first)])

    for _ in range(MAX_INVOCATIONS):
        if not queue:
            raise HarnessError("message queue drained without an egress result (the pipeline never "
                               "completed: a known seed hang, see README)")
        target, caller, argument = queue.popleft()

        to_fn = ToFunction()
        inv = to_fn.invocation
        inv.target.namespace, inv.target.type, inv.target.id = target
        call = inv.invocations.add()
        if caller is not None:
            call.caller.namespace, call.caller.type, call.caller.id = caller
        call.argument.CopyFrom(argument)
        # every registered value must be sent (absent ones with has_value=False), else the SDK
        # answers with an incomplete_invocation_context instead of running the function
        own = states.setdefault(target, {})
        for name in SPEC_NAMES:
            pv = inv.state.add()
            pv.state_name = name
            if name in own:
                pv.state_value.CopyFrom(own[name])

        from_fn = FromFunction()
        from_fn.ParseFromString(await handler.handle_async(to_fn.SerializeToString()))
        if not from_fn.HasField("invocation_result"):
            raise HarnessError(f"unexpected FromFunction: {from_fn}")
        result = from_fn.invocation_result

        for m in result.state_mutations:
            if m.mutation_type == MODIFY:
                own[m.state_name] = m.state_value
            else:  # DELETE: really drop it (the upstream test harness kept the stale value)
                own.pop(m.state_name, None)

        for m in result.outgoing_messages:
            queue.append(((m.target.namespace, m.target.type, m.target.id), target, m.argument))
        # retries arrive as delayed self-messages; delays are not simulated, only ordering (FIFO)
        for m in result.delayed_invocations:
            if m.is_cancellation_request:
                continue
            queue.append(((m.target.namespace, m.target.type, m.target.id), target, m.argument))

        if len(result.outgoing_egresses) > 1:
            raise HarnessError("more than one egress message from a single invocation")
        if result.outgoing_egresses:
            record = KafkaProducerRecord()
            record.ParseFromString(result.outgoing_egresses[0].argument.value)
            if record.topic != REPLY_TOPIC:
                raise HarnessError(f"egress to unexpected topic {record.topic!r}")
            # the first egress is the pipeline's answer; anything still queued (e.g. child-pipeline
            # bookkeeping sent to the root) is dropped with this pipeline's states
            root = states.get((tasks.NAMESPACE, tasks.WORKER, request.id), {}).get("pipeline_state")
            return (unpack_any(Any.FromString(record.value_bytes), [TaskResult, TaskException]),
                    PipelineState.FromString(root.value) if root is not None and root.has_value else None)

    raise HarnessError(f"no egress after {MAX_INVOCATIONS} invocations")


def encode(value):
    """Python value from the seed's deserialiser -> neutral JSON value."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, TaskException):
        return {"__exception__": {"exception_type": value.exception_type,
                                  "exception_message": value.exception_message}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Any) and not value.type_url:
        # an unset Any: the seed produces these where state is dropped, e.g. the state handed on
        # after an exceptionally task recovers (a task would see this empty Any, not None)
        return None
    raise HarnessError(f"cannot encode seed value of type {type(value).__name__}: {value!r}")


def process(description: dict, loop) -> dict:
    tasks.reset_counters()
    try:
        builder = tasks.build_pipeline(description)
        builder.to_task_request(serialiser)  # surface the seed's own validation errors at build time
    except Exception as ex:  # build-time rejection (e.g. 'Invalid pipeline', 'Ambiguous initial parameters')
        return {"ok": False, "exception_type": f"{type(ex).__module__}.{type(ex).__name__}",
                "exception_message": str(ex), "state": None, "error_stage": "build"}
    try:
        outcome, pipeline_state = loop.run_until_complete(run_pipeline(builder))
        # "state" is what the seed hands back to the caller: for a non-inline pipeline that is the
        # state the pipeline was *started* with (None at top level), never the tasks' state. The
        # tasks' final state is the root pipeline's last_task_state, reported alongside.
        last = None
        if pipeline_state is not None and pipeline_state.HasField("last_task_state"):
            last = encode(serialiser.from_proto(pipeline_state.last_task_state))
        if isinstance(outcome, TaskResult):
            result, state = serialiser.deserialise_result(outcome)
            return {"ok": True, "result": encode(result), "state": encode(state), "last_task_state": last}
        state = serialiser.from_proto(outcome.state) if outcome.HasField("state") else None
        return {"ok": False, "exception_type": outcome.exception_type,
                "exception_message": outcome.exception_message, "state": encode(state),
                "last_task_state": last}
    except Exception as ex:
        return {"ok": False, "exception_type": f"{type(ex).__module__}.{type(ex).__name__}",
                "exception_message": str(ex), "state": None, "error_stage": "harness"}


def main() -> None:
    loop = asyncio.new_event_loop()
    timing = os.environ.get("SEED_TIMING") == "1"
    for line in sys.stdin:
        if not line.strip():
            continue
        started = time.perf_counter()
        try:
            reply = process(json.loads(line), loop)
        except Exception as ex:  # malformed JSON and the like: answer anyway to keep the stream in step
            reply = {"ok": False, "exception_type": f"{type(ex).__module__}.{type(ex).__name__}",
                     "exception_message": str(ex), "state": None, "error_stage": "harness"}
        if timing:
            reply["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        _out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()

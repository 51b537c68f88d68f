"""The orchestrator: a faust agent over the pipeline events topic, keyed by pipeline id.

Per batch of events: admit in offset order (agents.offsets) -> decode -> fold + decide (the pure
engine) -> publish the decisions, then store the new states, each acknowledged by the broker
(under exactly-once, committed together in one transaction per input partition: agents/output.py);
then the offsets count as processed and are committed. No workflow logic lives here.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import TP

from agents.batches import batches
from agents.expiry_queue import ExpiryQueue
from agents.log_probe import LogProbe
from agents.observer import Observer
from agents.offsets import OffsetGuard, Verdict
from agents.output import make_output
from agents.recovery import reread_stalled_recovery
from agents.reload import Reload
from events.codec import Codec
from events.decide import next_wakeup
from events.messages import TimerElapsed, unbatched
from streams.intake import STATE_CODEC, Intake, LogRecord, Undecodable
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import Topics, partition_of

log = logging.getLogger("kafka_tasks.orchestrator")

# Up to this many events are folded before the touched pipelines are written: a 1,000-result
# fan-in then costs a few table writes, not 1,000 rewrites of an ever larger state. A batch
# gathers until BATCH_GAP_S after the previous one ended; an event finding the agent idle that
# long goes at once (agents/batches.py). The gather is time the agent waits while it could
# work: 2 ms (faust's take_events tick, kept when batches.py replaced it) against batches of
# about 5 ms gave 1,220-1,270 single-task pipelines a second, 0.5 ms 1,360-1,400 and less CPU
# per pipeline (0.63-0.66 ms against 0.67-0.72; five runs each of 10,000, alternating).
BATCH_SIZE = 1000
BATCH_GAP_S = 0.0005
STORE_INTERVAL_S = 0.1  # how often pipelines changed since are stored (step 5) ...
STORE_SHARE_INVERSE = 10  # ... or, while stores are slow, this many times as long as the last took
COMMIT_INTERVAL_S = 0.25  # how often processed offsets are committed
EXPIRE_CHECK_S = 1.0  # how often finished pipelines are checked against the retention
STALL_CHECK_S = 1.0  # how often partitions are checked for records that never arrive
STALL_AFTER_S = 3.0  # ... and how long none may arrive while some wait
# Under exactly-once a partition usually ends in a transaction marker, which looks like a stall:
# probe the log sooner than a real stall is re-read.
MARKERS_AFTER_S = 0.5


# RocksDB's memory, per partition's database. faust's defaults (three 64 MB memtables and a 2 GB
# block cache, each per partition) let the orchestrator's RSS grow with the table for hundreds of
# megabytes: 105 MB after 5,000 pipelines, 191 MB after 40,000 (bench/soak.py). States are read
# back rarely (running ones are cached in `live`), so a small cache costs little. With 8 MB
# memtables and a 16 MB cache RSS still grew until those filled (1.68x the first 10,000
# pipelines' after 100,000); at 2 MB it is flat from 30,000 on, at the same throughput.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 2 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 2 * 1024**2,
    "block_cache_compressed_size": 0,
}


@contextlib.contextmanager
def processing(event: Any) -> Iterator[None]:
    """Make `event` faust's current event: a table write goes to that event's changelog
    partition. faust keeps it in a private context variable; this is the one place we touch it."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


@dataclass
class OrchestratorView:
    """What the web API may read of a running orchestrator."""

    app: Any
    state_of: Any  # pipeline id -> its state on this replica, or None
    lag: Any  # async () -> {(topic, partition): records not yet processed}
    ready: Any  # () -> bool: partitions assigned and restored, not rebalancing
    finished_counts: Any  # () -> Counter: finished pipelines in this replica's table, by status


def install_orchestrator(faust_app: faust.App, settings: Settings, observers: Sequence[Observer] = ()) -> OrchestratorView:
    # Typed Any: the agent uses faust internals its type stubs do not declare (each use says why).
    app: Any = faust_app
    topics = Topics(settings.app_id)
    codec = Codec()
    # acks=False: faust does not track or commit this topic's offsets; the agent does, through the
    # OffsetGuard, because faust's own tracking can skip a record around rebalances (issue #3).
    events = app.topic(
        topics.pipeline_events,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        acks=False,
    )
    # The table's changelog is pickled and written by this app alone: faust's warning about
    # untrusted producers does not apply.
    warnings.filterwarnings("ignore", message="The pickle codec calls pickle.loads", category=Warning)
    pipelines: Any = app.Table("pipelines", default=None, partitions=settings.partitions, options=ROCKSDB_OPTIONS)
    # Keys are pipeline ids as bytes; values are PipelineState, pickled (frozen dataclasses and
    # immutables.Map round-trip exactly). faust takes serializers from model types only, so set
    # them here, before the table creates its store...
    pipelines.key_serializer = "raw"
    pipelines.value_serializer = STATE_CODEC
    # ... and rebuild the changelog topic, which the constructor built with the serializers it had
    # then (json). Writes pass the table's serializers explicitly, but recovery decodes with the
    # topic's: every record failed to decode, was dropped, and recovery waited forever for the
    # highwater. `_new_changelog_topic` is faust's own recipe (private, so only used here).
    pipelines.changelog_topic = pipelines._new_changelog_topic()
    changelog = pipelines.changelog_topic.get_topic_name()
    # Decisions, dead letters and changelog records: straight out, or in one Kafka transaction
    # per input partition, committed with the states (settings.exactly_once).
    output = make_output(app, settings, f"{topics.orchestrator_group}-{topics.pipeline_events}")
    publisher = Publisher(output, topics, codec, settings.max_message_bytes)
    # Transactions leave markers, offsets never delivered, which the stall watches must tell
    # from lost records (agents/log_probe.py); also after a switch back to at least once, so on
    # Kafka always. Nobody writes transactions to Tansu (settings refuse it).
    probe = None if settings.is_tansu else LogProbe(settings.bootstrap_servers, settings.max_record_bytes)
    # ... and markers are the rule under exactly-once: look sooner than for a real stall.
    stall_after_s = MARKERS_AFTER_S if settings.exactly_once else STALL_AFTER_S
    intake = Intake(topics.dead_letters, settings.max_state_bytes)
    wakeups: dict[str, float] = {}  # pipeline id -> when its next retry falls due
    # The due times live in the pipelines' states; this index of them is rebuilt from the table
    # after partitions move, so a retry waiting on a replica that died still falls due.
    reload = Reload()  # rebuilds the wakeups, the expiry queue and the index after partitions move
    # Write-through cache of running pipelines: reading a state back from RocksDB means
    # unpickling all of it, once per batch. Cleared whenever partitions move (another replica
    # may have written them meanwhile); finished pipelines leave it.
    live: dict[bytes, Any] = {}
    # Pipelines whose state in `live` is newer than the stored one -> the latest record that
    # changed them (its partition is the state's).
    unstored: dict[bytes, Any] = {}
    # Finished pipelines in the table, oldest finish first (event times), so the retention check
    # reads only the due ones at the front; on disk: the retention may keep millions.
    expiring = ExpiryQueue(settings.state_dir / "expiry-queue")
    last_store = [time.monotonic()]
    store_interval = [STORE_INTERVAL_S]
    guard = OffsetGuard()
    batch_lock = asyncio.Lock()
    durable: dict[Any, int] = {}  # partition -> offset before which everything is stored and sent
    committed: dict[Any, int] = {}

    def forget() -> None:
        reload.restart()
        live.clear()
        unstored.clear()
        expiring.clear()  # loaded again from the table with the wakeups
        guard.reset()
        durable.clear()
        committed.clear()
        for observer in observers:
            observer.forgotten()

    @app.on_partitions_revoked.connect
    async def finish_batch_on_revoke(sender: Any, revoked: Any, **_: Any) -> None:
        async with batch_lock:
            try:
                await store()
                await commit_processed()
            except Exception as error:  # the group may already have moved on: the next owner re-reads
                log.warning("storing and committing before the rebalance failed: %r", error)
            await output.close()  # the next owner of each partition starts its own
        forget()
        wakeups.clear()

    @app.on_partitions_assigned.connect
    async def forget_on_assign(sender: Any, assigned: Any, **_: Any) -> None:
        forget()
        await output.assign(tp.partition for tp in assigned if tp.topic == events.get_topic_name())

    async def start_cursor(tp: Any) -> None:
        # faust read the group's committed offsets when the assignment's recovery completed.
        offset = app.consumer._committed_offset.get(tp)
        if offset is None:
            offset = (await app.consumer.earliest_offsets(tp)).get(tp, 0)
        if not guard.knows(tp):  # the agent and the stall check may both have asked
            guard.start(tp, offset, time.monotonic())

    def stored_state(key: bytes, partition: int | None = None) -> Any:
        """The table's state of pipeline `key`, or None, as `pipelines.get(key)` gives it, in one
        RocksDB read: the table's own lookup reads a stored key twice (a check, then the value),
        turns a miss, every new pipeline's, into a KeyError, and without an event in context
        looks for it in each partition's database. A pipeline's state is in the database of its
        events' partition, `partition` when known (each store writes it under `processing(record)`)."""
        store = pipelines.data
        stored = store._get(key) if partition is None else store._db_for_partition(partition).get(key)
        return None if stored is None else store._decode_value(stored)

    def owned(tp: Any) -> bool:
        return tp in app.consumer.assignment()

    @app.agent(events, name="orchestrate")
    async def orchestrate(stream: Any) -> None:
        async for batch in batches(stream, BATCH_SIZE, BATCH_GAP_S):
            # A rebalance waits for the batch in flight (finish_batch_on_revoke): partitions move
            # with its decisions sent, its states stored and its offsets committed. Otherwise the
            # new owner folds the batch again and sends its decisions (replies too) a second time.
            async with batch_lock:
                try:
                    await process(batch)
                except Exception as error:
                    await start_over(error)

    async def start_over(error: Exception) -> None:
        """A send or commit failed (a fenced transaction: the partition has a new owner; a broker
        that gave up): nothing since the last store counts. Fold again from the stored states and
        the committed offsets, as a new owner would; the fold drops what it has seen."""
        log.error("writing a batch's outcome failed; folding again from the stored states: %r", error)
        await output.close()
        forget()

    async def process(batch: list[Any]) -> None:
        # Step 1: admit records in offset order, per partition; ask for a re-read on a gap.
        admitted = []
        assignment = app.consumer.assignment()
        for record in batch:
            tp = record.message.tp
            if app.rebalancing or tp not in assignment:
                continue  # fetched before partitions moved: the owner reads it from the committed offset
            if not guard.knows(tp):
                await start_cursor(tp)
            verdict = guard.admit(tp, record.message.offset, time.monotonic())
            if verdict is Verdict.PROCESS:
                admitted.append(record)
            elif verdict is Verdict.SEEK_BACK:
                log.warning(
                    "%s: got offset %s but %s was never delivered; reading again from %s",
                    tp, record.message.offset, guard.expected(tp), guard.expected(tp),
                )
                await app.consumer.seek(tp, guard.expected(tp))
        touched: dict[bytes, tuple[Any, Any, list[Any]]] = {}  # key -> (state, latest record, decisions)
        folded: list[tuple[Any, Any, list[Any], float]] = []  # for the observers
        sent: list[Any] = []  # dead letters, acknowledged with the decisions
        for record in admitted:
            # Step 2: decode. Bytes that are not an event go to the dead letters, unchanged;
            # they never stop the agent, but fail the running pipeline their key names.
            message = record.message
            decoded = intake.decode(
                LogRecord(message.topic, message.partition, message.offset, 0, message.key, message.value)
            )
            if isinstance(decoded, Undecodable):
                sent.append(await publisher.dead_letter(record, decoded.error))
                if decoded.verdict is None:
                    continue
                decoded = decoded.verdict
            # Time is the event's log timestamp, not the clock: folding the log again
            # (streams/replay.py) then gives these very states.
            at = message.timestamp or time.time()
            for event in unbatched(decoded):  # (a worker's TaskOutcomes: its outcomes in order)
                key = event.pipeline_id.encode()
                # Step 3: fold and decide, purely, on the latest state of the pipeline.
                if key in touched:
                    current, _, decisions = touched[key]
                else:
                    current, decisions = live[key] if key in live else stored_state(key, message.partition), []
                state, more = intake.step(current, event, at)
                decisions.extend(more)
                if observers:
                    folded.append((event, state, more, at))
                touched[key] = (state, record, decisions)
                reload.changed(key)  # from here on, this batch decides what is derived from it
        # Step 4: publish the decisions and wait until the broker has them. The new states wait
        # in `live` to be stored (step 5), so they are always stored after their decisions were
        # sent: a state stored first would leave its pipeline waiting for tasks nobody was asked
        # to run if the replica died in between.
        sent += await publisher.publish_all([
            (command, record.message.partition) for _, record, decisions in touched.values() for command in decisions
        ])
        await asyncio.gather(*sent)
        for event, state, more, at in folded:
            for observer in observers:
                observer.folded(event, state, more, at)
        for key, (state, record, _) in touched.items():
            if state is None:
                continue
            live[key] = state
            unstored[key] = record
            wake = next_wakeup(state)
            if wake is None:
                wakeups.pop(state.pipeline_id, None)
            else:
                wakeups[state.pipeline_id] = wake
        # Sent records in an open transaction wait for the states they follow: store them now.
        if output.pending() or time.monotonic() - last_store[0] >= store_interval[0]:
            await store()
        else:
            # (Every store empties `unstored` of finished pipelines: those of this batch are all.)
            finished = [key for key, (state, _, _) in touched.items() if state is not None and state.status.is_finished]
            if finished:
                await store(finished)

    async def store(finished: list[bytes] | None = None) -> None:
        """Step 5: store each pipeline changed since the last store, once, and wait for the
        changelog; then the offsets processed until now count as durable (to be committed). A
        wide fan-out's state is written a few times a second, not once per batch of results;
        after a crash the next owner folds the records since the last store again, and the fold
        drops what it has seen. `finished` names pipelines that have ended, to store just them,
        at once: their replies are out, and a next owner folding their last records again would
        send those replies a second time. (That moves no offsets: other changes wait unstored.)"""
        started = time.monotonic()
        if finished is None:
            last_store[0] = started
        keys = list(unstored) if finished is None else finished
        if not keys and not output.pending():
            return
        # What was processed up to now: durable once every change is stored (not after a partial store).
        processed = {} if finished is not None else guard.committable()
        assignment = app.consumer.assignment()
        # Encoded once, here; a state too large to store fails its pipeline (streams/intake.py),
        # whose ending is sent before that state is stored, as in step 4.
        sealed = {
            key: (intake.seal(live[key], record.message.timestamp or time.time()), record)
            for key, record in ((k, unstored[k]) for k in keys)
            if record.message.tp in assignment  # else revoked meanwhile: the new owner folds again
        }
        await asyncio.gather(*[
            await publisher.publish(c, record.message.partition) for step, record in sealed.values() for c in step.decisions
        ])
        # The bytes the seal encoded go to the changelog and to RocksDB as they are: the store's
        # own `__setitem__` and `send_changelog` would pickle the state twice more.
        latest = await output.send_changelog(changelog, [
            (record.message.partition, key, step.stored) for key, (step, record) in sealed.items() if step.stored is not None
        ])
        await output.commit()  # exactly once: the decisions and these states become visible together
        # RocksDB only after the commit: a restart must not find a state whose transaction aborted.
        for key, (step, record) in sealed.items():
            assert step.state is not None
            with processing(record):  # the RocksDB store picks its partition's DB from the event
                pipelines.data._set(key, step.stored)
            if step.state.status.is_finished:
                live.pop(key, None)
                # (finished again, a re-run: to the back of the line)
                expiring.put(key, step.state.finished_at or time.time(), step.state.status.name)
            else:
                live[key] = step.state
                expiring.discard(key)  # running again: neither to expire nor counted as finished
        # What faust's changelog callback does: the offset stored with each partition's RocksDB,
        # from which a restart reads the changelog to catch up.
        for partition, offset in latest.items():
            pipelines.data.set_persisted_offset(TP(changelog, partition), offset)
        # Only now: had anything above failed, these would be stored again next time, and the
        # offsets would not have moved past them.
        for key in keys:
            del unstored[key]
        if finished is None:
            durable.update(processed)
            # Stores take at most a tenth of the time: a wide pipeline's state is megabytes, and
            # each store pickles all of it (a 10,000-wide fan-out stored 13 times at a fifth, 5 at
            # a tenth: 0.85 s less CPU). A crash then folds a few seconds of events again.
            store_interval[0] = max(STORE_INTERVAL_S, STORE_SHARE_INVERSE * (time.monotonic() - started))

    async def store_when_idle() -> None:
        if unstored and time.monotonic() - last_store[0] >= store_interval[0]:
            async with batch_lock:
                try:
                    await store()
                except Exception as error:
                    await start_over(error)

    async def expire_finished() -> None:
        """Remove pipelines finished longer than the retention ago from the table (a tombstone
        on the changelog), so it does not grow forever."""
        cutoff = time.time() - settings.finished_retention_s
        async with batch_lock:  # (a batch may finish a due pipeline again: not after this read)
            assignment = app.consumer.assignment()
            removed = []
            for key in expiring.due(cutoff):
                expiring.discard(key)
                if key in live or key in unstored:
                    continue  # submitted again since: running
                partition = partition_of(key, settings.partitions)
                if TP(events.get_topic_name(), partition) not in assignment:
                    continue
                pipelines.data._del(key)
                reload.changed(key)  # (a pass under way may still hold its state)
                for observer in observers:
                    observer.removed(key.decode())
                removed.append(await app.producer.send(changelog, key, None, partition, None, None))
            await asyncio.gather(*removed)

    async def commit_processed() -> None:
        due = {tp: offset for tp, offset in durable.items() if committed.get(tp) != offset and owned(tp)}
        if due and await app.consumer._commit(due):
            committed.update(due)

    async def reread_stalled_partitions() -> None:
        # Records waiting on a partition while nothing arrives: faust lost its place (a record
        # skipped at the tail, or a partition left paused after a failed rebalance).
        if app.rebalancing:
            return
        mine = [tp for tp in app.consumer.assignment() if tp.topic == events.get_topic_name()]
        for tp in mine:
            if not guard.knows(tp):
                await start_cursor(tp)
        if not mine:
            return
        highwaters = await app.consumer.highwaters(*mine)
        for tp, offset in guard.stalled(dict(highwaters), time.monotonic(), stall_after_s):
            tp = TP(tp.topic, tp.partition)  # highwaters may be keyed by aiokafka's kind (agents/recovery.py)
            if probe is not None and not await probe.holds_records(tp, offset, highwaters[tp]):
                guard.skip(tp, offset, highwaters[tp])  # transaction markers: nothing to read
                continue
            log.warning("%s: records wait from offset %s but none arrive; reading again from there", tp, offset)
            await app.consumer.seek(tp, offset)
            app.consumer.resume_partitions({tp})

    def every(interval_s: float, step: Any) -> Any:
        """A loop running `step` again `interval_s` after each run ends (a faust timer warns when
        a slow broker makes runs overlap). A failed run is logged; the next one tries again."""

        async def loop() -> None:
            while not app.should_stop:
                await asyncio.sleep(interval_s)
                try:
                    await step()
                except Exception as error:  # a commit racing a rebalance, a broker going away
                    log.warning("%s failed, retrying in %.2f s: %r", step.__name__, interval_s, error)

        return loop

    app.task(every(COMMIT_INTERVAL_S, commit_processed))
    app.task(every(STORE_INTERVAL_S, store_when_idle))
    app.task(every(EXPIRE_CHECK_S, expire_finished))
    app.task(every(STALL_CHECK_S, reread_stalled_partitions))

    async def reread_stalled_changelogs() -> None:
        await reread_stalled_recovery(app, stall_after_s, probe)

    # faust starts app tasks once the first table recovery has completed, too late to watch that
    # recovery: this loop starts with the first partition assignment instead.
    watch_recovery = every(STALL_CHECK_S, reread_stalled_changelogs)
    watching: list[Any] = []

    @app.on_partitions_assigned.connect
    async def start_watching_recovery(sender: Any, assigned: Any, **_: Any) -> None:
        if not watching:
            watching.append(app.add_future(watch_recovery()))

    def load(key: bytes, state: Any) -> None:
        """What the orchestrator derives from a stored state, for `reload` (agents/reload.py)."""
        wake = next_wakeup(state)
        if wake is not None:
            wakeups[key.decode()] = wake
        if state.status.is_finished:
            expiring.put_if_absent(key, state.finished_at or time.time(), state.status.name)
        for observer in observers:
            observer.loaded(state)

    @app.timer(interval=0.05)
    async def fire_due_retries() -> None:
        # Retries are scheduled, never slept: when one falls due, an event goes through the
        # pipeline's own partition so the agent decides it in order with everything else.
        if app.rebalancing or app.tables.recovery.in_recovery:
            return
        if not reload.done and not reload.running:
            # A task of its own: a pass may take minutes, and this timer would warn all along.
            # Meanwhile the wakeups known so far fire: batches' and those the pass has loaded.
            app.add_future(reload.run(pipelines.items(), load))
        now = time.time()
        for pipeline_id, at in list(wakeups.items()):
            # (the event's timestamp, in whole ms, must not fall before `at`). Each send awaits:
            # meanwhile a batch may have moved this wakeup or a rebalance cleared them all, so
            # check it again (a KeyError here once crashed the replica).
            if at + 0.002 <= now and wakeups.get(pipeline_id) == at:
                del wakeups[pipeline_id]
                try:
                    await events.send(key=pipeline_id.encode(), value=codec.encode(TimerElapsed(pipeline_id, now)))
                except Exception as error:  # a broker away: try again at the next tick, not never
                    log.warning("sending the timer of %s failed, retrying: %r", pipeline_id, error)
                    wakeups.setdefault(pipeline_id, at)
                    return

    def state_of(pipeline_id: str) -> Any:
        key = pipeline_id.encode()
        return live[key] if key in live else stored_state(key)

    async def lag() -> dict[tuple[str, int], int]:
        mine = [tp for tp in app.consumer.assignment() if tp.topic == events.get_topic_name()]
        if not mine:
            return {}
        highwaters = await app.consumer.highwaters(*mine)
        return {
            (tp.topic, tp.partition): max(highwaters[tp] - (guard.expected(tp) if guard.knows(tp) else 0), 0)
            for tp in mine
            if tp in highwaters
        }

    def ready() -> bool:
        return (bool(app.consumer.assignment()) and not app.rebalancing and not app.tables.recovery.in_recovery
                and reload.done)

    return OrchestratorView(app, state_of, lag, ready, expiring.counts)

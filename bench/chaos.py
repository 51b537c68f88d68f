"""Chaos: pipelines run while orchestrator replicas and workers are SIGKILLed and restarted.

    .venv/bin/python bench/chaos.py [--pipelines 1000] [--steps 3] [--kill-every 4] [--chaos-for 300]
                                    [--settle 180] [--broker kafka|tansu] [--exactly-once]

Two orchestrator replicas and two workers run on a real broker. While N chains run, one process
chosen at random is SIGKILLed every few seconds and started again at once (an orchestrator with
its own state directory, or with a fresh one every other time), for at most `--chaos-for`
seconds; the rest then get `--settle` seconds without kills. Once the orchestrators have
processed every event, it prints: submitted, completed, lost (not finished `--settle` s after the
last kill), wrong, duplicated (pipelines with more than one PipelineFinished on the replies topic,
read committed), kills survived, wall time. Lost and wrong should be 0 always; duplicated should
be 0 with `--exactly-once` (Kafka only). Without it, duplicated replies are the at-least-once
window (a replica killed between sending a reply and storing its state) that clients absorb by
pipeline id. Figures only.
"""
from __future__ import annotations

import argparse
import collections
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_app import inc, tasks  # noqa: E402
from streams.client import KafkaTasksClient  # noqa: E402
from streams.errors import TaskError  # noqa: E402
from streams.replay import finished_per_pipeline, wait_until_processed  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import Topics  # noqa: E402

APP_ID = tasks.app_id  # a fresh broker per run: the bench app's own topics


class Deployment:
    """Two orchestrator replicas and two workers, each restartable under its name."""

    def __init__(self, broker: Any, kind: str, workdir: Path, exactly_once: bool) -> None:
        self.common = ["--app-id", APP_ID, "--bootstrap-servers", broker.bootstrap_servers, "--broker", kind]
        self.orchestrator_flags = ["--exactly-once"] if exactly_once else []
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts = collections.Counter[str]()

    def start(self, name: str) -> None:
        if name.startswith("orchestrator"):
            state = self.workdir / name
            if self.restarts[name] % 2:  # every other restart: the local table is lost too
                shutil.rmtree(state, ignore_errors=True)
            args = ["orchestrator", *self.common, "--state-dir", str(state), "--web-port", "0", *self.orchestrator_flags]
        else:
            args = ["worker", "-A", "bench.bench_app", *self.common, "--web-port", "0"]
        log = open(self.workdir / f"{name}.log", "ab")
        self.running[name] = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], stdout=log,
                                              stderr=subprocess.STDOUT, cwd=ROOT)

    def kill_and_restart(self, name: str) -> None:
        self.running[name].send_signal(signal.SIGKILL)
        self.running[name].wait()
        self.restarts[name] += 1
        self.start(name)

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


_LOST = object()


def _wait_out(handle: Any, killer: threading.Thread, last_kill: list[float], settle: float) -> Any:
    """The pipeline's result (its TaskError if it failed: a wrong result here), waiting while the
    kills go on and `settle` seconds after the last."""
    while True:
        try:
            return handle.result(5.0)
        except TaskError as error:
            return error
        except TimeoutError:
            if not killer.is_alive() and time.monotonic() >= last_kill[0] + settle:
                return _LOST


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--broker", choices=["kafka", "tansu"], default="kafka")
    parser.add_argument("--chaos-for", type=float, default=300, help="seconds of kills at most")
    parser.add_argument("--settle", type=float, default=180, help="seconds without kills for the rest to finish")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exactly-once", action="store_true", help="orchestrators in Kafka transactions (Kafka only)")
    args = parser.parse_args()
    if args.broker == "tansu":
        from streams.brokers.tansu import TansuBroker

        broker: Any = TansuBroker()
    else:
        from streams.brokers.kafka import start_kafka

        broker = start_kafka(nodes=1)
    workdir = Path(tempfile.mkdtemp(prefix="kafka-tasks-chaos-"))
    deployment = Deployment(broker, args.broker, workdir, args.exactly_once)
    names = ["orchestrator-a", "orchestrator-b", "worker-a", "worker-b"]
    for name in names:
        deployment.start(name)
    settings = Settings(app_id=APP_ID, bootstrap_servers=broker.bootstrap_servers, broker=args.broker)
    done = threading.Event()
    kills: list[str] = []
    last_kill = [time.monotonic()]  # until the first kill: a settle period counts from here

    def chaos() -> None:
        rng = random.Random(args.seed)
        stop_at = time.monotonic() + args.chaos_for
        while not done.wait(args.kill_every) and time.monotonic() < stop_at:
            victim = rng.choice(names)
            deployment.kill_and_restart(victim)
            kills.append(victim)
            last_kill[0] = time.monotonic()

    try:
        with KafkaTasksClient(settings) as client:
            client.submit(inc.send(0)).result(180)  # everything joined
            guarantee = "exactly once" if args.exactly_once else "at least once"
            print(f"broker: {args.broker}; 2 orchestrator replicas ({guarantee}) + 2 workers; logs in {workdir}", flush=True)
            killer = threading.Thread(target=chaos, daemon=True)
            started = time.perf_counter()
            killer.start()
            handles = []
            for i in range(args.pipelines):
                pipeline = inc.send(i * 10)
                for _ in range(args.steps - 1):
                    pipeline.continue_with(inc)
                handles.append(client.submit(pipeline))
            completed = wrong = lost = 0
            for i, handle in enumerate(handles):
                result = _wait_out(handle, killer, last_kill, args.settle)
                if result is _LOST:
                    lost += 1
                    continue
                completed += 1
                wrong += result != i * 10 + args.steps
            wall = time.perf_counter() - started
            tail = time.monotonic() - last_kill[0]  # how long the last pipelines took once kills stopped
            done.set()
            killer.join()
        wait_until_processed(settings, args.settle)  # a second reply comes, if at all, from a re-fold
        replies = finished_per_pipeline(settings, Topics(APP_ID).replies)
        duplicated = sum(1 for h in handles if replies[h.pipeline_id] > 1)
        print(f"submitted:     {args.pipelines:,} pipelines of {args.steps} steps")
        print(f"completed:     {completed:,}")
        print(f"lost:          {lost:,}")
        print(f"wrong result:  {wrong:,}")
        print(f"duplicated:    {duplicated:,} (pipelines with more than one PipelineFinished on the replies topic)")
        print(f"kills survived: {len(kills)} ({', '.join(f'{n} x{c}' for n, c in sorted(collections.Counter(kills).items()))})")
        after_kills = f" ({tail:.1f} s of it after the last kill)" if kills else ""
        print(f"wall time:     {wall:.1f} s{after_kills}")
    finally:
        done.set()
        deployment.stop()
        broker.stop()


if __name__ == "__main__":
    main()

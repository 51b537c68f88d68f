"""Kafka runtime figures: 1 orchestrator + 1 worker process on a real broker.

    .venv/bin/python bench/runtime.py [--broker tansu|kafka]

Prints tasks/s for 1,000 independent single-task pipelines and for 300 three-step chains, the
wall time of a 1,000-wide fan-out with fan-in, and p50/p99 latency of 100 sequential single-task
pipelines. Figures only: nothing asserts a time.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_app import average, inc, tasks  # noqa: E402
from streams import in_parallel  # noqa: E402
from streams.client import KafkaTasksClient  # noqa: E402
from streams.settings import Settings  # noqa: E402


def start_broker(kind: str) -> Any:
    if kind == "tansu":
        from streams.brokers.tansu import TansuBroker

        return TansuBroker()
    from streams.brokers.kafka import start_kafka

    return start_kafka(nodes=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    args = parser.parse_args()
    broker = start_broker(args.broker)
    workdir = Path(tempfile.mkdtemp(prefix="kafka-tasks-bench-"))
    common = ["--app-id", tasks.app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", args.broker]
    processes = [
        subprocess.Popen([sys.executable, "-m", "streams.cli", "orchestrator", *common, "--state-dir", str(workdir / "state")],
                         stdout=open(workdir / "orchestrator.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT),
        subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-A", "bench.bench_app", *common],
                         stdout=open(workdir / "worker.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT),
    ]
    try:
        settings = Settings(app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers, broker=args.broker)
        with KafkaTasksClient(settings) as client:
            client.submit(inc.send(0)).result(120)  # warm up: group joins done
            print(f"broker: {args.broker} ({broker.bootstrap_servers}); 1 orchestrator + 1 worker process")

            start = time.perf_counter()
            handles = [client.submit(inc.send(i)) for i in range(1000)]
            assert [h.result(300) for h in handles] == [i + 1 for i in range(1000)]
            elapsed = time.perf_counter() - start
            print(f"1,000 single-task pipelines: {1000 / elapsed:8.0f} tasks/s ({elapsed:.2f} s)")

            start = time.perf_counter()
            handles = [client.submit(inc.send(i).continue_with(inc).continue_with(inc)) for i in range(300)]
            assert [h.result(300) for h in handles] == [i + 3 for i in range(300)]
            elapsed = time.perf_counter() - start
            print(f"300 three-step chains:       {900 / elapsed:8.0f} tasks/s ({elapsed:.2f} s)")

            start = time.perf_counter()
            result = client.submit(in_parallel([inc.send(i) for i in range(1000)]).continue_with(average)).result(300)
            elapsed = time.perf_counter() - start
            assert result == 500.5
            print(f"1,000-wide fan-out + fan-in: {elapsed:8.2f} s")

            latencies = []
            for i in range(100):
                start = time.perf_counter()
                client.submit(inc.send(i)).result(60)
                latencies.append(time.perf_counter() - start)
            latencies.sort()
            print(f"single-task round trip:      p50 {statistics.median(latencies) * 1000:.1f} ms, "
                  f"p99 {latencies[98] * 1000:.1f} ms (100 sequential)")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        broker.stop()


if __name__ == "__main__":
    main()

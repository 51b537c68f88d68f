"""A Kafka Tasks deployment for the benchmarks: a broker, 1 orchestrator and 1 worker process."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_app import inc, tasks
from streams.client import KafkaTasksClient
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Deployment:
    broker: Any
    settings: Settings
    client: KafkaTasksClient
    orchestrator: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    workdir: Path


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's memory from /proc/<pid>/status: `VmRSS` now, `VmHWM` its peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_broker(kind: str) -> Any:
    if kind == "tansu":
        from streams.brokers.tansu import TansuBroker

        return TansuBroker()
    from streams.brokers.kafka import start_kafka

    return start_kafka(nodes=1)


@contextlib.contextmanager
def deployed(kind: str, **settings: Any) -> Iterator[Deployment]:
    """Start everything, wait until a first pipeline has run (group joins done), stop at the end.
    `settings` become KAFKA_TASKS_* variables of the orchestrator and worker."""
    import os

    broker = start_broker(kind)
    workdir = Path(tempfile.mkdtemp(prefix="kafka-tasks-bench-"))
    common = ["--app-id", tasks.app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", kind]
    variables = {f"KAFKA_TASKS_{k.upper()}": str(v) for k, v in settings.items()}
    # No HTTP servers unless asked for (`web_port=...`): nothing here reads them.
    env = {**os.environ, "KAFKA_TASKS_WEB_PORT": "0", "KAFKA_TASKS_WORKER_WEB_PORT": "0", **variables}

    def spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], stdout=open(workdir / f"{name}.log", "wb"),
                                stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    orchestrator = spawn("orchestrator", "orchestrator", *common, "--state-dir", str(workdir / "state"))
    worker = spawn("worker", "worker", "-A", "bench.bench_app", *common)
    # The client gets the same settings (a fetch wait, say) as the processes.
    config = Settings.from_env(variables, app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers, broker=kind)
    try:
        with KafkaTasksClient(config) as client:
            client.submit(inc.send(0)).result(120)
            yield Deployment(broker, config, client, orchestrator, worker, workdir)
    finally:
        for process in (orchestrator, worker):
            process.terminate()
        for process in (orchestrator, worker):
            process.wait(30)
        broker.stop()

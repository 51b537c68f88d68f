"""A Node.js client written from docs/topics.md alone (examples/node/submit.js: kafkajs and avsc
from npm) submits the stocks pipeline as a plain Avro record and reads its result."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from examples.stocks import pipeline, tasks
from streams.cli import main as cli
from streams.client import KafkaTasksClient
from streams.settings import Settings
from tests.processes import Processes

pytestmark = pytest.mark.kafka
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
# npm packages are fetched once per machine, next to the Apache Kafka jars.
MODULES_CACHE = Path(os.environ.get("KAFKA_TASKS_CACHE", Path.home() / ".cache" / "kafka-tasks")) / "node-example"


def node_modules() -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("the Node.js example needs node and npm on PATH")
    target = MODULES_CACHE / "node_modules"
    if not (target / "kafkajs").exists() or not (target / "avsc").exists():
        MODULES_CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / "package.json", MODULES_CACHE / "package.json")
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MODULES_CACHE,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"npm install failed:\n{done.stderr}"
    return target


def test_the_node_example_submits_the_stocks_pipeline_and_prints_its_result(broker: Any, tmp_path: Path) -> None:
    modules = node_modules()
    schemas = tmp_path / "schemas"
    assert cli(["schemas", "--export", str(schemas)]) == 0
    connection = ["--app-id", tasks.app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]
    processes = Processes(tmp_path)
    processes.spawn("orchestrator", "orchestrator", *connection, "--state-dir", str(tmp_path / "state"))
    processes.spawn("worker", "worker", "-A", "examples.stocks", *connection)
    try:
        with KafkaTasksClient(Settings(app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers,
                                       broker=broker.kind)) as client:
            expected = client.submit(pipeline()).result(180)  # the deployment is up; and the result to expect
        done = subprocess.run(
            ["node", str(EXAMPLE / "submit.js"), "--bootstrap-servers", broker.bootstrap_servers,
             "--app-id", tasks.app_id, "--schemas", str(schemas)],
            capture_output=True, text=True, timeout=240, env={**os.environ, "NODE_PATH": str(modules)},
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- worker:\n{processes.log('worker')}"
    finally:
        processes.stop_all()
    lines = done.stdout.splitlines()
    assert lines[0].startswith("submitted pipeline ")
    assert lines[-1].startswith("result: ")
    assert float(lines[-1].removeprefix("result: ")) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(tasks.run(pipeline()), rel=1e-12)

"""Starting orchestrator replicas and workers of the replica app (tests/integration/replica_app.py)
as the CLI's processes, on a test's broker."""
from __future__ import annotations

from typing import Any

from tests.integration.replica_app import tasks
from tests.processes import Processes


def connection(broker: Any) -> list[str]:
    return ["--app-id", tasks.app_id, "--bootstrap-servers", broker.bootstrap_servers, "--broker", broker.kind]


def spawn_replica(processes: Processes, broker: Any, name: str, *flags: str, module: str = "streams.cli") -> None:
    state_dir = processes.workdir / name
    processes.spawn(name, "orchestrator", *connection(broker), "--state-dir", str(state_dir), *flags, module=module)

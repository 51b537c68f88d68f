"""Starting and stopping the CLI's processes (orchestrator, worker) from tests, each logging to
`<workdir>/<name>.log`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class Processes:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = dict(os.environ) if env is None else env
        # No HTTP server unless a test asks for one (--web-port): replicas started together
        # would race for the default port.
        self.env.setdefault("KAFKA_TASKS_WEB_PORT", "0")
        self.env.setdefault("KAFKA_TASKS_WORKER_WEB_PORT", "0")
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, *args: str, module: str = "streams.cli") -> subprocess.Popen[bytes]:
        """Run `python -m module *args`: the CLI, or a test's wrapper around it."""
        log = open(self.workdir / f"{name}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
        )
        self.started[name] = process
        return process

    def kill(self, name: str) -> None:
        self.started[name].send_signal(signal.SIGKILL)
        self.started[name].wait()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text()[-4000:]

    def check_alive(self) -> None:
        """Raise, with its log's tail, if a started process has exited."""
        for name, process in self.started.items():
            if process.poll() is not None:
                raise RuntimeError(f"the {name} exited:\n" + self.log(name))

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.terminate()
        for process in self.started.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

"""Starting and stopping the CLI's processes (orchestrator, worker) from tests, each logging to
`<workdir>/<name>.log`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# Where a failing test keeps what a process wrote (the checkout's test-output/, not committed).
OUTPUT = Path(__file__).resolve().parents[1] / "test-output"


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

    def diagnose(self, name: str, label: str) -> str:
        """For a failure that is rare and hard to reproduce: ask the orchestrator `name` for the
        stacks of its threads and asyncio tasks (on SIGUSR1 faust's worker prints them, with
        their locals), keep its whole log as `test-output/<label>-<name>.log`, and return where,
        the log's tail before the stacks, and the frames of our code in them."""
        process = self.started[name]
        log = self.workdir / f"{name}.log"
        before = log.read_text()
        if process.poll() is None:
            process.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and log.stat().st_size == len(before.encode()):
                time.sleep(0.2)
            time.sleep(1)  # (the stacks are written in one go, once it starts)
        kept = OUTPUT / f"{label}-{name}.log"
        kept.parent.mkdir(exist_ok=True)
        shutil.copyfile(log, kept)
        return (f"its whole log, its stacks at the end: {kept}\n{before[-3000:]}\n--- its tasks, in our code:\n"
                + "\n".join(_our_frames(log.read_text()[len(before):].splitlines())))

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


def _our_frames(stacks: list[str]) -> list[str]:
    """From mode's dump of stacks (per thread and per asyncio task: a name, then for each frame a
    `File` line, its code and its locals): each thread or task that is in this project's code,
    with what it wraps and those frames, each with its line of code."""
    ours = ("/agents/", "/streams/", "/events/", "/tests/")
    kept: list[str] = []
    head: list[str] = []  # the current thread's or task's name lines
    frames: list[str] = []
    for i, line in enumerate([*stacks, "  TASK (end)"]):
        if line.startswith(("THREAD ", "  TASK ")):
            if frames:
                kept += head + frames
            head, frames = [line], []
        elif line.startswith("   -> ") and len(head) == 1:
            head.append(line)
        elif line.lstrip().startswith("File ") and any(part in line for part in ours) and ".venv" not in line:
            frames += [line, stacks[i + 1] if i + 1 < len(stacks) else ""]
    return kept

"""Client for the seed-engine oracle, usable from the main environment (no statefun imports).

    with SeedEngine() as seed:
        seed.run({"entries": [{"task": "echo", "args": [5]}, {"task": "add", "args": [2]}]})
        # -> {"ok": True, "result": 7, "state": None, "last_task_state": None}

It starts `<seed venv>/bin/python driver.py` once (bootstrapping the venv on first use) and talks to
it over JSON lines on stdin/stdout, so many pipelines cost one interpreter start.
"""
from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent
DRIVER = SEED_DIR / "driver.py"


def _bootstrap_module():
    # loaded by path: this package is not importable under a fixed name from every test layout
    spec = importlib.util.spec_from_file_location("_seed_bootstrap", SEED_DIR / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SeedEngineError(RuntimeError):
    pass


def _reject_tuples(value, where="description"):
    # json.dumps would silently turn a Python tuple into a list, i.e. a different neutral value
    if isinstance(value, tuple):
        raise TypeError(f'{where}: write tuples as {{"__tuple__": [...]}}, not as Python tuples')
    if isinstance(value, list):
        for i, v in enumerate(value):
            _reject_tuples(v, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            _reject_tuples(v, f"{where}.{k}")


class SeedEngine:
    def __init__(self, venv: str | os.PathLike | None = None, timeout: float = 60.0):
        self._venv = Path(venv) if venv else None
        self._timeout = timeout
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self._stderr = None

    def start(self) -> SeedEngine:
        if self._proc is not None:
            return self
        bootstrap = _bootstrap_module()
        python = bootstrap.ensure(self._venv, log=lambda msg: print(msg, file=sys.stderr, flush=True))
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(
            [str(python), "-u", str(DRIVER)], cwd=SEED_DIR, text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        # a reader thread lets run() time out instead of blocking forever on a wedged driver
        threading.Thread(target=self._pump, args=(self._proc.stdout,), daemon=True).start()
        return self

    def _pump(self, stream):
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # EOF

    def run(self, description: dict) -> dict:
        return self.run_many([description])[0]

    def run_many(self, descriptions: list[dict]) -> list[dict]:
        """Send all descriptions before reading, saving a round trip per pipeline."""
        if self._proc is None:
            self.start()
        payload = []
        for description in descriptions:
            _reject_tuples(description)
            payload.append(json.dumps(description) + "\n")
        try:
            self._proc.stdin.write("".join(payload))
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise SeedEngineError(f"seed driver is gone{self._stderr_tail()}") from None
        replies = []
        for _ in descriptions:
            try:
                line = self._lines.get(timeout=self._timeout)
            except queue.Empty:
                self.close(kill=True)
                raise SeedEngineError(f"seed driver gave no answer within {self._timeout}s") from None
            if line is None:
                raise SeedEngineError(f"seed driver exited (rc={self._proc.poll()}){self._stderr_tail()}")
            replies.append(json.loads(line))
        return replies

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read()[-4000:]
        return f"; its stderr:\n{text}" if text else ""

    def close(self, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if kill:
                proc.kill()
            else:
                proc.stdin.close()
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()
        finally:
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
            self._lines = queue.Queue()

    def __enter__(self) -> SeedEngine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

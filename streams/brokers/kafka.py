"""A real Apache Kafka broker (KRaft, no ZooKeeper), assembled from Maven Central jars.

`start_kafka(nodes=1)` gives a single combined broker+controller; `start_kafka(nodes=3)` gives the
shape production runs (replication factor 3, min.insync.replicas 2), where a broker can be
SIGKILLed to exercise leader failover. Unlike the Tansu dev broker it has compaction, correct
high watermarks, transactions, CreatePartitions, DeleteRecords and replication.

Version: KAFKA_VERSION is the newest release on Maven Central when this was written (4.4.0).
Checked against it: aiokafka 0.14.0 (AIOKafkaAdminClient.create_topics, produce, consume in a
group) and confluent-kafka 2.16.1 (librdkafka) both work, so the 3.9.x fallback for KIP-896
(old protocol versions removed in 4.0) was not needed.

Jars: `kafka_2.13` declares slf4j-api 1.7 and log4j-core but no slf4j binding, so without
`log4j-slf4j-impl` (added to the pom below) the broker's logs would go nowhere.

Lifetime: each JVM runs in its own process group and is killed by an `atexit` hook and a
`weakref.finalize`; if this Python process is SIGKILLed, a tiny watchdog forked next to each JVM
sees the launcher's pipe close and SIGKILLs the JVM (see `_WATCHDOG`).
"""
from __future__ import annotations

import atexit
import base64
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
# Must match the log4j-core that kafka-server pulls in (2.25.5 for Kafka 4.4.0).
LOG4J_VERSION = "2.25.5"

Log = Callable[[str], None]

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-tasks</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{version}</version>
    </dependency>
    <!-- the broker logs through slf4j 1.7; this routes it to log4j2 (otherwise: no logs) -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
"""

# Runs as `python -c _WATCHDOG <fd> java ...`: forks a watcher, then execs the JVM in place (so
# Popen.pid is the JVM's pid). The watcher holds the read end of a pipe whose write end only the
# launcher holds: EOF means the launcher died (even by SIGKILL), so it kills the JVM. A pipe
# rather than PR_SET_PDEATHSIG because the latter fires when the *thread* that forked exits, and
# preexec_fn is unsafe in a process with threads.
_WATCHDOG = """
import os, select, signal, sys
fd, argv, jvm = int(sys.argv[1]), sys.argv[2:], os.getpid()
if os.fork() == 0:
    while True:
        ready = select.select([fd], [], [], 1.0)[0]
        if os.getppid() != jvm:
            os._exit(0)  # the JVM ended on its own
        if ready and not os.read(fd, 1):
            os.kill(jvm, signal.SIGKILL)
            os._exit(0)
os.close(fd)
os.execvp(argv[0], argv)
"""

_lifeline: tuple[int, int] | None = None  # (read, write) ends; the write end is never written
_live: set[subprocess.Popen[bytes]] = set()  # every JVM started and not yet reaped


def _lifeline_fd() -> int:
    global _lifeline
    if _lifeline is None:
        _lifeline = os.pipe()  # non-inheritable by default: only pass_fds hands out the read end
    return _lifeline[0]


def _killpg(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group: the JVM and its watchdog
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _kill_all_at_exit() -> None:
    for process in list(_live):
        _killpg(process, signal.SIGKILL)
        process.wait()
    _live.clear()


def _require(tool: str, install: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"the Apache Kafka launcher needs `{tool}` on PATH: install {install}")
    return path


def default_cache_dir(version: str = KAFKA_VERSION) -> Path:
    base = os.environ.get("KAFKA_TASKS_CACHE") or Path.home() / ".cache" / "kafka-tasks"
    return Path(base) / f"kafka-{version}"


def fetch_jars(version: str = KAFKA_VERSION, cache_dir: Path | str | None = None, log: Log = print,
               timeout_s: float = 900.0) -> Path:
    """Return a directory holding the broker's runtime jars, fetching them with Maven once.

    `cache_dir` is the per-version directory (default `default_cache_dir(version)`). A stamp file
    written after a successful fetch marks it complete; a complete cache never runs Maven.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(version)
    libs, stamp = cache / "libs", cache / "complete.stamp"
    if stamp.exists():
        return libs
    _require("java", "a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)")
    mvn = _require("mvn", "Apache Maven 3.6+ (e.g. apt-get install maven)")
    cache.mkdir(parents=True, exist_ok=True)
    # Two test processes fetching at once would interleave copies into the same libs/.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return libs
        shutil.rmtree(libs, ignore_errors=True)  # a half-finished earlier attempt
        (cache / "pom.xml").write_text(_POM.format(scala=SCALA_VERSION, version=version, log4j=LOG4J_VERSION))
        log(f"fetching Apache Kafka {version} jars from Maven Central (first run only) ...")
        started = time.monotonic()
        try:
            done = subprocess.run(
                [mvn, "-B", "-q", "-f", str(cache / "pom.xml"), "dependency:copy-dependencies",
                 "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
                capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"mvn did not fetch the Kafka {version} jars within {timeout_s:.0f} s") from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
            raise RuntimeError(f"mvn failed to fetch Apache Kafka {version} (exit {done.returncode}):\n{tail}")
        jars = sorted(p.name for p in libs.glob("*.jar"))
        if f"kafka_{SCALA_VERSION}-{version}.jar" not in jars:
            raise RuntimeError(f"mvn finished but kafka_{SCALA_VERSION}-{version}.jar is missing from {libs}")
        stamp.write_text("\n".join(jars) + "\n")
        log(f"fetched {len(jars)} jars into {libs} in {time.monotonic() - started:.1f} s")
    return libs


def _free_ports(count: int) -> list[int]:
    # Hold every socket until all are bound so the same port is not handed out twice.
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _admin(bootstrap_servers: str) -> Any:
    from confluent_kafka.admin import AdminClient

    # log_level 2: librdkafka would otherwise print every refused connection to a dead node.
    return AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 2})


@dataclass(eq=False)
class KafkaNode:
    """One combined broker+controller JVM."""

    node_id: int
    port: int
    controller_port: int
    dir: Path
    java: list[str]  # the full command line, reused by restart()
    log: Log = print
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def log_file(self) -> Path:
        return self.dir / "kafka.log"

    @property
    def console_file(self) -> Path:
        return self.dir / "console.log"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.alive():
            return
        with open(self.console_file, "ab") as console:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(_lifeline_fd()), *self.java],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                pass_fds=(_lifeline_fd(),),
                start_new_session=True,  # its own process group: Ctrl-C in a terminal does not reach it
            )
        _live.add(self.process)

    def kill(self) -> None:
        """SIGKILL: the crash a failover test wants (no controlled shutdown)."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def terminate(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after `timeout_s`."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.log(f"kafka node {self.node_id} ignored SIGTERM for {timeout_s:.0f} s: SIGKILL")
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def restart(self, timeout_s: float = 60.0) -> None:
        """Stop if running, then start again on the same ports and data; wait for its port."""
        self.terminate()
        self.start()
        self.wait_for_port(time.monotonic() + timeout_s)

    def wait_for_port(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(self.failure("exited before listening"))
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError(self.failure(f"does not listen on 127.0.0.1:{self.port}"))

    def failure(self, what: str) -> str:
        code = self.process.poll() if self.process is not None else None
        exited = f" (exit code {code})" if code is not None else ""
        return (f"kafka node {self.node_id} {what}{exited}\n--- {self.log_file} ---\n{_tail(self.log_file)}"
                f"\n--- {self.console_file} ---\n{_tail(self.console_file)}")

    def _signal_and_wait(self, sig: int, timeout_s: float) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            _killpg(process, sig)
            process.wait(timeout_s)
        else:
            _killpg(process, signal.SIGKILL)  # a watchdog may outlive its JVM by up to a second
        _live.discard(process)
        _wait_group_empty(process.pid, 2.0)


def group_running(pgid: int) -> list[int]:
    """Pids in process group `pgid` that still run (zombies do not count: init reaps them late)."""
    if not Path("/proc/self/stat").exists():  # no procfs (macOS): ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    running = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):  # fields: state, ppid, pgrp
            running.append(int(entry.name))
    return running


def _wait_group_empty(pgid: int, timeout_s: float) -> None:
    # So that on return nothing of ours runs: the SIGKILLed watchdog needs a moment to go.
    deadline = time.monotonic() + timeout_s
    while group_running(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _shutdown(nodes: list[KafkaNode], owned_dir: Path | None, timeout_s: float) -> None:
    # Parallel SIGTERM: one by one, each broker's controlled shutdown would wait on the next.
    for node in nodes:
        if node.alive():
            assert node.process is not None
            try:
                os.kill(node.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout_s
    for node in nodes:
        if node.process is not None:
            try:
                node.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        node._signal_and_wait(signal.SIGKILL, 10.0)
    if owned_dir is not None:
        shutil.rmtree(owned_dir, ignore_errors=True)


class KafkaCluster:
    """`nodes` combined broker+controller JVMs on loopback; `stop()` or the context manager ends them."""

    kind = "kafka"

    def __init__(self, nodes: list[KafkaNode], cluster_id: str, data_dir: Path, owned: bool) -> None:
        self.nodes = nodes
        self.cluster_id = cluster_id
        self.data_dir = data_dir
        self._owned_dir = data_dir if owned else None  # removed on stop()
        self._admin_client: Any = None
        # Runs on stop(), on garbage collection, or at interpreter exit, whichever comes first.
        # Quick at exit (SIGKILL): the finalizer must not hold up the end of a failed test run.
        self._finalizer = weakref.finalize(self, _shutdown, nodes, self._owned_dir, 0.0)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def admin(self) -> Any:
        """A shared confluent-kafka AdminClient for this cluster."""
        if self._admin_client is None:
            self._admin_client = _admin(self.bootstrap_servers)
        return self._admin_client

    def leader_of(self, topic: str, partition: int = 0, timeout_s: float = 10.0) -> int | None:
        """The partition leader's node id, or None while the partition has no leader."""
        metadata = self.admin().list_topics(topic=topic, timeout=timeout_s)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or partition not in found.partitions:
            return None
        leader = found.partitions[partition].leader
        return leader if leader >= 0 else None

    def brokers(self, timeout_s: float = 5.0) -> set[int]:
        """Node ids the cluster's metadata currently lists as brokers."""
        return set(self.admin().list_topics(timeout=timeout_s).brokers)

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Every node accepts TCP connections and the metadata lists every broker."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            node.wait_for_port(deadline)
        want = {n.node_id for n in self.nodes}
        seen: set[int] = set()
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.alive():
                    raise RuntimeError(node.failure("exited while the cluster was starting"))
            try:
                seen = self.brokers(timeout_s=max(0.1, min(2.0, deadline - time.monotonic())))
            except Exception:  # KafkaException while no broker answers yet
                seen = set()
            if seen >= want:
                return
            time.sleep(0.1)
        missing = sorted(want - seen)
        raise TimeoutError(self.node(missing[0]).failure(
            f"not in the cluster metadata after {timeout_s:.0f} s (brokers seen: {sorted(seen)})"))

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every node, wait up to `timeout_s`, SIGKILL the rest. Idempotent."""
        if self._finalizer.detach() is not None:  # None: already stopped
            _shutdown(self.nodes, self._owned_dir, timeout_s)

    def __enter__(self) -> KafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _properties(node_id: int, port: int, controller_port: int, voters: str, data: Path, nodes: int,
                extra: Mapping[str, object]) -> str:
    replicas, min_isr = (1, 1) if nodes < 3 else (3, 2)
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,  # static quorum: formatting needs no --standalone
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": data,
        "num.partitions": 1,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "group.initial.rebalance.delay.ms": 0,  # otherwise every first group join waits 3 s
        **extra,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _java_command(libs: Path, node_dir: Path, main: str, *args: str) -> list[str]:
    java = _require("java", "a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)")
    return [java, "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={node_dir / 'log4j2.properties'}",
            "-cp", f"{libs}/*", main, *args]


def _format(nodes: list[KafkaNode], libs: Path, cluster_id: str, deadline: float) -> None:
    # One JVM per node, run in parallel: each takes a couple of seconds to start on 2 cores.
    running = []
    for node in nodes:
        command = _java_command(libs, node.dir, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                                # "--cluster-id=ID", not "-t ID": a base64url id may start with
                                # "-", which the tool's parser would read as an option.
                                f"--cluster-id={cluster_id}", "-c", str(node.dir / "server.properties"))
        running.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True))
    try:
        for node, process in zip(nodes, running, strict=True):
            out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if process.returncode != 0:
                raise RuntimeError(f"formatting kafka node {node.node_id} failed (exit {process.returncode}):\n"
                                   f"{out.decode(errors='replace')[-3000:]}")
    finally:
        for process in running:
            if process.poll() is None:
                _killpg(process, signal.SIGKILL)
                process.wait()


def start_kafka(nodes: int = 1, data_dir: Path | str | None = None, log: Log = print, *,
                config: Mapping[str, object] | None = None, version: str = KAFKA_VERSION,
                timeout_s: float = 120.0) -> KafkaCluster:
    """Start `nodes` combined broker+controller nodes and wait until the metadata lists them all.

    With `data_dir` the data stays after stop() and a later start on it reuses the cluster id;
    without, a temporary directory is used and removed on stop(). `config` adds or overrides
    server.properties entries on every node (e.g. `broker.session.timeout.ms`, which bounds how
    long a SIGKILLed broker stays leader: 9 s by default). `version`: only KAFKA_VERSION is
    checked; 3.x would also need log4j 1 instead of the log4j2 setup here.
    """
    if nodes < 1:
        raise ValueError("nodes must be >= 1")
    libs = fetch_jars(version, log=log)
    started = time.monotonic()
    deadline = started + timeout_s
    owned = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="kafka-tasks-")) if data_dir is None else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    id_file = root / "cluster.id"
    if id_file.exists():
        cluster_id = id_file.read_text().strip()
    else:
        # A KRaft cluster id is a UUID in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        id_file.write_text(cluster_id + "\n")
    ports = _free_ports(2 * nodes)
    voters = ",".join(f"{i}@127.0.0.1:{ports[2 * i + 1]}" for i in range(nodes))
    members: list[KafkaNode] = []
    for i in range(nodes):
        node_dir = root / f"node-{i}"
        node_dir.mkdir(exist_ok=True)
        (node_dir / "server.properties").write_text(
            _properties(i, ports[2 * i], ports[2 * i + 1], voters, node_dir / "data", nodes, config or {}))
        (node_dir / "log4j2.properties").write_text(_LOG4J2.format(path=node_dir / "kafka.log"))
        java = _java_command(libs, node_dir, "kafka.Kafka", str(node_dir / "server.properties"))
        members.append(KafkaNode(i, ports[2 * i], ports[2 * i + 1], node_dir, java, log))
    cluster = KafkaCluster(members, cluster_id, root, owned)
    try:
        _format(members, libs, cluster_id, deadline)
        for node in members:
            node.start()
        cluster.wait_ready(max(1.0, deadline - time.monotonic()))
    except BaseException:
        cluster.stop(timeout_s=0.0)
        raise
    log(f"Apache Kafka {version}: {nodes} node(s) at {cluster.bootstrap_servers} "
        f"ready in {time.monotonic() - started:.1f} s")
    return cluster

"""A real Confluent-compatible schema registry for the tests: Apicurio Registry 2.4.2 (in-memory
storage), serving Confluent's REST API under /apis/ccompat/v7.

Neither Confluent's registry nor Karapace can be fetched here (not on Maven Central or PyPI).
Apicurio is on Maven Central, but as a Quarkus application's module, not a runnable jar: a small
wrapper project depends on it and lets Quarkus's Maven plugin build the runnable application
(once, into the cache; ~100 s and ~190 MB of downloads on a fresh machine, then ~4 s to start).

Two pins the wrapper needs, both about artifacts missing from the Maven Central these machines
reach (a partial mirror):
- Apicurio 2.4.2 depends on everit's JSON-schema library under JitPack coordinates; the same
  library is on Maven Central as `com.github.erosb:everit-json-schema`.
- Its `apicurio-common-app-components-config-index` 0.1.18 is a Quarkus extension whose
  build-time half (`-deployment`) is not in that mirror; 0.1.10's pair is, with the same API.
(3.x, 2.6 and 2.5 need modules that mirror does not have either.)
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

VERSION = "2.4.2.Final"
QUARKUS_VERSION = "2.16.4.Final"  # what apicurio-registry 2.4.2's parent pom builds with
API = "/apis/ccompat/v7"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-tasks</groupId>
  <artifactId>apicurio-registry-runner</artifactId>
  <version>0</version>
  <properties>
    <maven.compiler.release>11</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <!-- the config-index extension whose build-time half Maven Central has -->
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-common-app-components-config-index</artifactId>
        <version>0.1.10.Final</version>
      </dependency>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-registry</artifactId>
        <version>{version}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
      <dependency>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-bom</artifactId>
        <version>{quarkus}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion>
          <groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>com.github.erosb</groupId>
      <artifactId>everit-json-schema</artifactId>
      <version>1.14.2</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>{quarkus}</version>
        <executions>
          <execution>
            <goals>
              <goal>build</goal>
            </goals>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
"""

# The app jar carries no bean index: Quarkus must index it to find its REST resources.
_PROPERTIES = """quarkus.index-dependency.registry-app.group-id=io.apicurio
quarkus.index-dependency.registry-app.artifact-id=apicurio-registry-app
quarkus.package.type=fast-jar
"""


def cache_dir() -> Path:
    base = os.environ.get("KAFKA_TASKS_CACHE") or Path.home() / ".cache" / "kafka-tasks"
    return Path(base) / f"apicurio-registry-{VERSION}"


def build(timeout_s: float = 900.0) -> Path:
    """The runnable registry's jar, built with Maven on first use (a stamp marks it complete)."""
    project = cache_dir()
    runner = project / "target" / "quarkus-app" / "quarkus-run.jar"
    stamp = project / "complete.stamp"
    if stamp.exists():
        return runner
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building the test schema registry needs `{tool}` on PATH (a JDK 17+ and Maven)")
    project.mkdir(parents=True, exist_ok=True)
    with open(project / ".lock", "w") as lock:  # two test processes must not build into one target/
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return runner
        (project / "pom.xml").write_text(_POM.format(version=VERSION, quarkus=QUARKUS_VERSION))
        resources = project / "src" / "main" / "resources"
        resources.mkdir(parents=True, exist_ok=True)
        (resources / "application.properties").write_text(_PROPERTIES)
        print(f"building Apicurio Registry {VERSION} with Maven (first run only, ~2 min) ...", flush=True)
        try:
            done = subprocess.run(["mvn", "-B", "-q", "-f", str(project / "pom.xml"), "package"],
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Maven did not build the registry within {timeout_s:.0f} s") from None
        if done.returncode != 0 or not runner.exists():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
            raise RuntimeError(f"Maven failed to build Apicurio Registry {VERSION} (exit {done.returncode}):\n{tail}")
        stamp.write_text(f"{VERSION}\n")
    return runner


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def running_registry(startup_timeout_s: float = 90.0) -> Iterator[str]:
    """Start a fresh (empty) registry on a free port; yields its Confluent-compatible API's URL."""
    runner = build()
    port = _free_port()
    log_path = cache_dir() / f"registry-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["java", f"-Dquarkus.http.port={port}", "-Dquarkus.http.host=127.0.0.1", "-jar", str(runner)],
            stdout=log, stderr=subprocess.STDOUT, cwd=runner.parent, start_new_session=True)

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    atexit.register(stop)  # a failing test must not leave a JVM behind
    url = f"http://127.0.0.1:{port}{API}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _answers(f"{url}/subjects"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"the schema registry did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.25)
        yield url
    finally:
        stop()
        atexit.unregister(stop)
        log_path.unlink(missing_ok=True)

"""The `kafka-tasks` command line. Settings come from flags, then KAFKA_TASKS_* variables."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.app import KafkaTasks
from streams.gc_settings import collect_less_once_started
from streams.schema_registry import LEVELS as COMPATIBILITY_LEVELS
from streams.settings import Settings
from streams.topics import Topics


def load_app(spec: str) -> tuple[KafkaTasks, Any]:
    """`module` or `module:attribute` -> (the module's KafkaTasks, the module)."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        return getattr(module, attribute), module
    found = [v for v in vars(module).values() if isinstance(v, KafkaTasks)]
    if len(found) != 1:
        raise SystemExit(f"{module_name} defines {len(found)} KafkaTasks apps: name one as {module_name}:attribute")
    return found[0], module


def web_port_setting(command: str) -> str:
    """The setting `--web-port` stands for: workers and orchestrators have their own defaults."""
    return "worker_web_port" if command == "worker" else "web_port"


def settings_from(args: argparse.Namespace, app_id: str | None = None) -> Settings:
    return Settings.from_env(
        app_id=app_id or args.app_id,
        bootstrap_servers=args.bootstrap_servers,
        broker=args.broker,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
        fetch_wait_ms=getattr(args, "fetch_wait_ms", None),
        exactly_once=getattr(args, "exactly_once", None),
        **{web_port_setting(args.command): getattr(args, "web_port", None)},
        web_host=getattr(args, "web_host", None),
        web_bind=getattr(args, "web_bind", None),
    )


def with_free_web_port(settings: Settings, process: str) -> Settings:
    """The settings as they are, or without the web server when its port is taken (a second
    replica on one machine left at the default): the process runs, and says what to pass."""
    import socket

    field = web_port_setting(process)
    port = getattr(settings, field)
    if port == 0:
        return settings
    with socket.socket() as probe:
        try:
            probe.bind((settings.web_bind, port))
        except OSError as exc:
            print(f"kafka-tasks {process}: web port {settings.web_bind}:{port} is taken ({exc.strerror}): "
                  "running without its HTTP endpoints; give each process its own --web-port",
                  file=sys.stderr, flush=True)
            return settings.with_(**{field: 0})
    return settings


# -- commands --------------------------------------------------------------------------------


def cmd_broker(args: argparse.Namespace) -> int:
    from streams.brokers.tansu import TansuBroker

    with TansuBroker(port=args.port, durable_dir=args.durable) as broker:
        kept = f"data in {args.durable}" if args.durable else "in memory"
        print(f"Tansu dev broker ({kept}) on {broker.bootstrap_servers}; Ctrl-C stops it", flush=True)
        if args.durable:
            print("its clients need longer fetches: export KAFKA_TASKS_FETCH_WAIT_MS=200", flush=True)
        _wait_for_signal()
    return 0


def cmd_orchestrator(args: argparse.Namespace) -> int:
    import faust

    from agents.metrics import OrchestratorMetrics
    from agents.orchestrator import install_orchestrator
    from agents.pipeline_index import PipelineIndex
    from agents.task_activity import TaskActivity
    from agents.web import ActionAnswers, install_web
    from streams.admin import ensure_app_topics, ensure_orchestrator_topics
    from streams.faust_app import make_faust_app

    tasks = load_app(args.app)[0] if args.app else None
    settings = with_free_web_port(settings_from(args, tasks.app_id if tasks else None), "orchestrator")
    ensure_app_topics(settings)
    ensure_orchestrator_topics(settings)
    app = make_faust_app(settings)
    index, activity, answers = PipelineIndex(), TaskActivity(), ActionAnswers()
    metrics = OrchestratorMetrics(index.counts_by_status)
    # The observers feed only the web server: without one, the loop carries none of them.
    observers = [index, activity, metrics, answers] if settings.web_port else []
    view = install_orchestrator(app, settings, observers)
    index.finished_counts = view.finished_counts  # (the index keeps the latest finished only)
    if settings.web_port:
        install_web(app, settings, view, index, activity, metrics, answers, tasks)
    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
    # faust's terminal spinner turns the root logger to DEBUG so that every record spins it:
    # every debug line of aiokafka was then formatted, about 8% of the orchestrator's time.
    worker.spinner = None
    collect_less_once_started()  # (streams/gc_settings.py: a tenth of its CPU went to the collector)
    worker.execute_from_commandline()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from agents.worker import Worker

    tasks, _ = load_app(args.app)
    settings = with_free_web_port(settings_from(args, tasks.app_id), "worker")
    worker = Worker(tasks, settings, args.worker_name)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from streams.client import KafkaTasksClient
    from streams.notifications import Listeners
    from streams.progress import Progress

    tasks, module = load_app(args.app)
    pipeline = getattr(module, args.pipeline)(*json.loads(args.args))
    progress = Progress(pipeline.id, pipeline.to_spec()) if args.wait else None
    listeners = None
    if progress is not None:
        listeners = Listeners()
        listeners.add("task.*", progress.on_task)
    with KafkaTasksClient(settings_from(args, tasks.app_id), listeners=listeners) as client:
        handle = client.submit(pipeline)
        print(f"submitted pipeline {handle.pipeline_id}", flush=True)
        if progress is not None:
            try:
                result = handle.result(args.timeout)
            finally:
                progress.finish()
            print(json.dumps(result, default=repr))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """A pipeline's steps as a tree, or the latest pipelines as a table, from the REST API."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from streams.status_report import pipeline_tree, pipelines_table

    if args.pipeline_id:
        path = f"/api/pipelines/{urllib.parse.quote(args.pipeline_id, safe='')}"
    else:
        query = {k: v for k, v in (("status", args.status), ("task", args.task), ("limit", str(args.limit))) if v}
        path = f"/api/pipelines?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(args.url.rstrip("/") + path, timeout=30) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as failure:
        print(f"kafka-tasks status: {json.load(failure).get('error', failure.reason)}", file=sys.stderr)
        return 1
    except urllib.error.URLError as failure:
        print(f"kafka-tasks status: no orchestrator answers at {args.url} ({failure.reason}): "
              "pass --url http://<replica>:<web port>", file=sys.stderr)
        return 1
    print(pipeline_tree(answer) if args.pipeline_id else pipelines_table(answer["pipelines"], answer["incomplete"]))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams import replay

    settings = settings_from(args)
    topics = Topics(settings.app_id)
    from_time_ms = None if args.from_time is None else int(_parse_time(args.from_time) * 1000)
    records = replay.read_topic(settings, topics.pipeline_events, from_time_ms, replay.print_progress)
    rebuilt = replay.rebuild(records, settings, now=time.time())
    print(f"rebuilt {len(rebuilt.states):,} pipelines from {rebuilt.events:,} events "
          f"({rebuilt.skipped:,} records that are not events skipped); checksum {replay.checksum(rebuilt.states)}")
    if args.state_dir:
        print(f"written to {replay.write_state_dir(rebuilt.states, Path(args.state_dir))}")
    if args.republish:
        print(f"{replay.republish(settings, rebuilt):,} states written to {topics.orchestrator_changelog}")
    if args.check:
        live = replay.live_states(settings)
        print(f"live table: {len(live):,} pipelines; checksum {replay.checksum(live)}")
        different = replay.differing(rebuilt.states, live)
        if different:
            print(f"{len(different):,} pipelines differ (pipelines still running change meanwhile: check "
                  f"when the app is idle), e.g. {', '.join(different[:5])}")
            first = different[0]
            print(f"{first}: {replay.difference(rebuilt.states.get(first), live.get(first))}")
            return 1
        print("the rebuilt table equals the live one")
    return 0


def _parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def cmd_action(args: argparse.Namespace) -> int:
    from streams.client import KafkaTasksClient

    with KafkaTasksClient(settings_from(args)) as client:
        method = {
            "pause": client.pause_async,
            "unpause": client.unpause_async,
            "cancel": client.cancel_async,
        }[args.command]
        answer = asyncio.run(method(args.pipeline_id))
        print(answer.name if answer is not None else f"{args.command}: done")
    return 0


def cmd_schedule_add(args: argparse.Namespace) -> int:
    from streams.client import KafkaTasksClient

    tasks, _ = load_app(args.app)
    unknown = sorted(set(args.names) - set(tasks.schedules))
    if unknown:
        declared = ", ".join(sorted(tasks.schedules)) or "none"
        raise SystemExit(f"{args.app} declares no schedule named {', '.join(unknown)} (it declares: {declared})")
    if not tasks.schedules:
        raise SystemExit(f"{args.app} declares no schedules: declare them with tasks.schedule(name, pipeline, cron=...)")
    with KafkaTasksClient(settings_from(args, tasks.app_id)) as client:
        for name in args.names or sorted(tasks.schedules):
            client.add_schedule(tasks.schedules[name])
            print(f"added schedule {name} ({tasks.schedules[name].cron})")
    return 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    from streams.client import KafkaTasksClient

    def when(at: float | None) -> str:
        return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    with KafkaTasksClient(settings_from(args)) as client:
        rows = [(u.name, u.schedule_status, u.cron, when(u.next_slot_at), u.last_pipeline_id or "-", str(u.runs),
                 " -> ".join(u.task_names)) for u in client.list_schedules()]
    header = ("NAME", "STATUS", "CRON", "NEXT RUN", "LAST RUN", "RUNS", "TASKS")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_schedule_change(args: argparse.Namespace) -> int:
    from streams.client import KafkaTasksClient

    with KafkaTasksClient(settings_from(args)) as client:
        method = {
            "pause": client.pause_schedule_async,
            "resume": client.resume_schedule_async,
            "remove": client.remove_schedule_async,
        }[args.schedule_command]
        asyncio.run(method(args.name))
    print(f"schedule {args.name}: {args.schedule_command}d")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    """List the event schemas with their fixed ids; export them for other languages."""
    from schemas import load, standalone

    loaded = load()
    rows = sorted(loaded.by_name.values(), key=lambda s: s.schema_id)
    for schema in rows:
        print(f"{schema.schema_id:>5}  {schema.full_name} v{schema.version}  ({schema.path.name})")
    if args.export:
        args.export.mkdir(parents=True, exist_ok=True)
        for schema in rows:
            (args.export / f"{schema.name}.avsc").write_text(json.dumps(standalone(schema.name, loaded), indent=2) + "\n")
        print(f"wrote {len(rows)} standalone schemas (references written out) to {args.export}")
    if args.register:
        return _register_schemas(args.register, args.compatibility)
    return 0


def _register_schemas(url: str, compatibility: str) -> int:
    from streams.schema_registry import RegistryError, SchemaRegistry, register_all

    print(f"registering in {url} (subjects kafka_tasks.<Record>, compatibility {compatibility}):")
    try:
        registered = register_all(SchemaRegistry(url), compatibility)
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{'subject':<36} {'version':>7} {'id here':>8} {'registry id':>12}")
    for entry in registered:
        print(f"{entry.subject:<36} {'v' + str(entry.version):>7} {entry.schema_id:>8} {entry.registry_id:>12}")
    print(f"{len(registered)} schema versions under {len({e.subject for e in registered})} subjects. Records carry "
          "the 'id here' in their framing (docs/topics.md), not the registry's.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the local broker, an orchestrator and a worker; run the stocks pipeline; stop all."""
    from examples.stocks import STOCKS, pipeline, tasks
    from streams.brokers.tansu import TansuBroker
    from streams.client import KafkaTasksClient

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kafka-tasks-demo-") as tmp, TansuBroker() as broker:
        print(f"local broker (Tansu) on {broker.bootstrap_servers}", flush=True)
        common = ["--bootstrap-servers", broker.bootstrap_servers, "--broker", "tansu", "--app-id", tasks.app_id]
        processes = [
            _spawn(["orchestrator", *common, "--state-dir", f"{tmp}/state"], Path(tmp) / "orchestrator.log"),
            _spawn(["worker", "-A", "examples.stocks", *common], Path(tmp) / "worker.log"),
        ]
        try:
            settings = Settings(app_id=tasks.app_id, bootstrap_servers=broker.bootstrap_servers, broker="tansu")
            with KafkaTasksClient(settings) as client:
                print(f"orchestrator and worker started; submitting {len(STOCKS)} stocks: load -> std dev -> average", flush=True)
                submitted = time.perf_counter()
                handle = client.submit(pipeline())
                result = _await_while_alive(handle, processes, timeout=120)
                print(f"average std dev: {result:.3f} (pipeline took {time.perf_counter() - submitted:.2f} s "
                      "including group joins; whole demo "
                      f"{time.perf_counter() - started:.1f} s)")
        except Exception:
            for name in ("orchestrator", "worker"):
                print(f"--- {name} log ---\n" + (Path(tmp) / f"{name}.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            for process in processes:
                _stop(process)
    print("stopped the worker, the orchestrator and the broker")
    return 0


def _await_while_alive(handle: Any, processes: list[subprocess.Popen[bytes]], timeout: float) -> Any:
    """The pipeline's result; fails at once if the orchestrator or the worker died meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return handle.result(timeout=0.2)
        except TimeoutError:
            dead = [p for p in processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a demo process exited with code {dead[0].returncode}") from None
            if time.monotonic() > deadline:
                raise


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")
    return subprocess.Popen([sys.executable, "-m", "streams.cli", *argv], stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_signal() -> None:
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass


# -- parser ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafka-tasks", description="Durable task pipelines on Kafka")
    commands = parser.add_subparsers(dest="command", required=True)

    def connected(name: str, help: str, under: Any = commands) -> argparse.ArgumentParser:
        sub = under.add_parser(name, help=help)
        sub.add_argument("--app-id")
        sub.add_argument("--bootstrap-servers")
        sub.add_argument("--broker", choices=["kafka", "tansu"], help="tansu: the local dev broker")
        sub.add_argument("--state-dir")
        sub.add_argument("--partitions", type=int)
        sub.add_argument("--replication-factor", type=int)
        sub.add_argument("--fetch-wait-ms", type=int, help="200 for a durable local broker")
        sub.add_argument("--exactly-once", action=argparse.BooleanOptionalAction, default=None,
                         help="orchestrator writes in Kafka transactions (Apache Kafka only; default off)")
        return sub

    def served(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument("--web-port", type=int, help=f"HTTP port for {what}; 0: none")
        sub.add_argument("--web-host", help="the address other replicas and clients reach this process at (default 127.0.0.1)")
        sub.add_argument("--web-bind", help="the interface to listen on (default 127.0.0.1; 0.0.0.0 in containers)")

    broker = commands.add_parser("broker", help="start the local dev broker (Tansu, in memory unless --durable)")
    broker.add_argument("--port", type=int)
    broker.add_argument("--durable", type=Path, metavar="DIR", help="keep the broker's data in DIR across restarts")
    broker.set_defaults(func=cmd_broker)

    orchestrator = connected("orchestrator", "run one orchestrator replica")
    orchestrator.add_argument("-A", "--app", help="module (or module:attribute) defining the KafkaTasks app")
    orchestrator.add_argument("--loglevel", default="WARNING")
    served(orchestrator, "the REST API, dashboard, /metrics, /health and /ready (default 6066)")
    orchestrator.set_defaults(func=cmd_orchestrator)

    worker = connected("worker", "run a worker for an app's tasks")
    worker.add_argument("-A", "--app", required=True, help="module (or module:attribute) defining the tasks")
    worker.add_argument("--worker-name", help="serve this worker name's request topic")
    served(worker, "/metrics, /health and /ready (default 6067)")
    worker.set_defaults(func=cmd_worker)

    submit = connected("submit", "submit a pipeline built by a function of a module")
    submit.add_argument("-A", "--app", required=True)
    submit.add_argument("--pipeline", default="pipeline", help="function of the module returning the pipeline")
    submit.add_argument("--args", default="[]", help="JSON list of arguments for that function")
    submit.add_argument("--wait", action="store_true")
    submit.add_argument("--timeout", type=float, default=300)
    submit.set_defaults(func=cmd_submit)

    for name in ("pause", "unpause", "cancel"):
        action = connected(name, f"{name} a pipeline")
        action.add_argument("pipeline_id")
        action.set_defaults(func=cmd_action)

    status = commands.add_parser("status", help="a pipeline's steps as a tree, or the latest pipelines as a table")
    status.add_argument("pipeline_id", nargs="?")
    status.add_argument("--url", default="http://127.0.0.1:6066", help="any orchestrator replica's web address")
    status.add_argument("--status", help="only these statuses (comma-separated), for the table")
    status.add_argument("--task", help="only pipelines with a task of this name, for the table")
    status.add_argument("--limit", type=int, default=20)
    status.set_defaults(func=cmd_status)

    replay = connected("replay", "rebuild the pipeline table from the pipeline events topic alone")
    replay.add_argument("--from-time", help="start at this time (ISO 8601 or epoch seconds) instead of the beginning")
    replay.add_argument("--check", action="store_true", help="compare with the live table; exit 1 if they differ")
    replay.add_argument("--republish", action="store_true",
                        help="write the rebuilt states to the table's changelog (lost changelog, bad deploy)")
    replay.set_defaults(func=cmd_replay)

    schedule = commands.add_parser("schedule", help="add, list, pause, resume or remove CRON schedules")
    schedule_commands = schedule.add_subparsers(dest="schedule_command", required=True)
    add = connected("add", "put the schedules an app declares (tasks.schedule) on Kafka", schedule_commands)
    add.add_argument("-A", "--app", required=True, help="module (or module:attribute) declaring the schedules")
    add.add_argument("names", nargs="*", help="only these schedules (default: every one the app declares)")
    add.set_defaults(func=cmd_schedule_add)
    connected("list", "every schedule: status, CRON, next and last run", schedule_commands).set_defaults(
        func=cmd_schedule_list)
    for name, help in (("pause", "stop running a schedule's slots"), ("resume", "run a paused schedule again"),
                       ("remove", "delete a schedule (its runs so far stay)")):
        change = connected(name, help, schedule_commands)
        change.add_argument("name")
        change.set_defaults(func=cmd_schedule_change)

    schemas = commands.add_parser("schemas", help="list the Avro schemas and their ids; export them for other languages")
    schemas.add_argument("--export", type=Path, metavar="DIR", help="write each schema, standalone, to DIR/<Name>.avsc")
    schemas.add_argument("--register", metavar="URL", help="register every version in a Confluent-compatible schema "
                         "registry at URL, one subject per record: kafka_tasks.<Record>")
    schemas.add_argument("--compatibility", default="BACKWARD_TRANSITIVE", choices=COMPATIBILITY_LEVELS,
                         help="with --register: the level set on each subject first (default: BACKWARD_TRANSITIVE)")
    schemas.set_defaults(func=cmd_schemas)

    commands.add_parser("demo", help="run the stocks pipeline end to end on the local broker").set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""The `kafka-tasks` command line."""
from __future__ import annotations

import argparse
import sys
import time


def demo(args: argparse.Namespace) -> int:
    from examples.stocks import STOCKS, compute_std_dev, load_timeseries, pipeline, tasks

    print(f"Stocks pipeline: {len(STOCKS)} stocks -> load -> std dev, in parallel -> average")
    print("driver: in-process (the orchestrator's fold/decide and the worker's executor, one process)")
    start = time.perf_counter()
    result = tasks.run(pipeline())
    elapsed = time.perf_counter() - start
    for stock in STOCKS:  # the same functions stay plain callables
        print(f"  {stock:5} std dev {compute_std_dev(load_timeseries(stock)):7.3f}")
    print(f"average std dev: {result:.3f}  ({elapsed * 1000:.0f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafka-tasks", description="Durable task pipelines on Kafka")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the stocks pipeline end to end").set_defaults(func=demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

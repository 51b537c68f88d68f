"""Kafka runtime figures: 1 orchestrator + 1 worker process on a real broker.

    .venv/bin/python bench/runtime.py [--broker tansu|kafka] [--exactly-once]

Prints tasks/s for 1,000 independent single-task pipelines and for 300 three-step chains, the
wall time of a 1,000-wide fan-out with fan-in, and p50/p99 latency of 100 sequential single-task
pipelines (bench/workloads.py). Figures only: nothing asserts a time.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.deployment import deployed  # noqa: E402
from bench.workloads import measure, report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    parser.add_argument("--exactly-once", action="store_true", help="the orchestrator in Kafka transactions (Kafka only)")
    args = parser.parse_args()
    settings = {"exactly_once": "true"} if args.exactly_once else {}
    with deployed(args.broker, **settings) as deployment:
        guarantee = "exactly once" if args.exactly_once else "at least once"
        print(f"broker: {args.broker} ({deployment.broker.bootstrap_servers}); 1 orchestrator ({guarantee}) + 1 worker process")
        print(report(measure(deployment.client)))


if __name__ == "__main__":
    main()

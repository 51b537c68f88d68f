"""A 10,000-wide fan-out with a fan-in average, end to end on a real broker.

    .venv/bin/python bench/fanout.py [--broker tansu|kafka] [--width 10000] [--stages 0,10,100]

For each `num_stages` variant (0: a single group), in a fresh deployment (1 orchestrator +
1 worker, bench/deployment.py): wall time from submit to result, the orchestrator's peak RSS
(VmHWM), and the bytes the orchestrator wrote to its table's changelog. Figures only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_app import average, inc  # noqa: E402
from bench.deployment import deployed, memory_mb  # noqa: E402
from streams import in_parallel  # noqa: E402
from streams.replay import read_topic  # noqa: E402
from streams.topics import Topics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    parser.add_argument("--width", type=int, default=10_000)
    parser.add_argument("--stages", default="0,10,100", help="num_stages variants, comma-separated (0: none)")
    args = parser.parse_args()
    print(f"{args.width:,}-wide fan-out + fan-in on {args.broker}, 1 orchestrator + 1 worker")
    print(f"{'num_stages':>10} {'wall s':>8} {'build+submit s':>15} {'orch. peak RSS MB':>18} {'changelog MB':>13}")
    for stages in (int(s) for s in args.stages.split(",")):
        with deployed(args.broker) as deployment:
            start = time.perf_counter()
            pipeline = in_parallel([inc.send(i) for i in range(args.width)], num_stages=stages or None)
            handle = deployment.client.submit(pipeline.continue_with(average))
            submitted = time.perf_counter() - start
            result = handle.result(600)
            wall = time.perf_counter() - start
            assert result == (args.width + 1) / 2, result
            rss = memory_mb(deployment.orchestrator.pid, "VmHWM")
            changelog = Topics(deployment.settings.app_id).orchestrator_changelog
            written = sum(len(r.key or b"") + len(r.value or b"") for r in read_topic(deployment.settings, changelog))
        print(f"{stages or '-':>10} {wall:8.2f} {submitted:15.2f} {rss:18.0f} {written / 1e6:13.1f}", flush=True)


if __name__ == "__main__":
    main()

"""Memory over a long run: N single-task pipelines in waves, the orchestrator's RSS after each.

    .venv/bin/python bench/soak.py [--broker tansu|kafka] [--pipelines 100000] [--wave 5000]
                                   [--retention-s 86400]

Issue #5's target: after warm-up (the first wave) the orchestrator's RSS stays within 20%.
Finished pipelines leave its memory at once (they are stored) and its table after
`--retention-s`; until then its web server's index keeps a summary of each (the orchestrator
runs with its web server, as it does by default). Figures only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_app import inc  # noqa: E402
from bench.deployment import deployed, memory_mb  # noqa: E402
from streams.brokers.tansu import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    parser.add_argument("--pipelines", type=int, default=100_000)
    parser.add_argument("--wave", type=int, default=5_000)
    parser.add_argument("--retention-s", type=float, default=24 * 3600.0)
    args = parser.parse_args()
    with deployed(args.broker, finished_retention_s=args.retention_s, web_port=free_port()) as deployment:
        pid = deployment.orchestrator.pid
        print(f"{args.pipelines:,} single-task pipelines in waves of {args.wave:,} on {args.broker}; "
              f"retention {args.retention_s:g} s")
        print(f"{'completed':>10} {'orch. RSS MB':>13} {'pipelines/s':>12}")
        done, first = 0, None
        while done < args.pipelines:
            start = time.perf_counter()
            handles = [deployment.client.submit(inc.send(i)) for i in range(args.wave)]
            assert [h.result(600) for h in handles] == [i + 1 for i in range(args.wave)]
            done += args.wave
            rss = memory_mb(pid)
            first = first or rss
            print(f"{done:>10,} {rss:13.0f} {args.wave / (time.perf_counter() - start):12.0f}", flush=True)
        print(f"RSS after the last wave / after the first: {rss / first:.2f}x (target within 1.2x)")


if __name__ == "__main__":
    main()

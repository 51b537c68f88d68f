"""The stocks workflow: load each stock's prices, compute each one's standard deviation in
parallel, then average them. The classic 1-N-1 pipeline.
"""
from __future__ import annotations

import numpy as np

from streams import KafkaTasks, in_parallel

tasks = KafkaTasks(app_id="stocks")

STOCKS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "ORCL"]


@tasks.bind()
def load_timeseries(stock: str) -> np.ndarray:
    # Deterministic synthetic prices (a seeded random walk), so the demo needs no network.
    rng = np.random.default_rng(sum(map(ord, stock)))
    return 100 + np.cumsum(rng.normal(0, 1, size=250))


@tasks.bind()
def compute_std_dev(prices: np.ndarray) -> float:
    return float(np.std(prices))


@tasks.bind()
def compute_average(std_devs: list[float]) -> float:
    return float(np.mean(std_devs))


def pipeline(stocks: list[str] = STOCKS):
    return in_parallel(
        [load_timeseries.send(s).continue_with(compute_std_dev) for s in stocks]
    ).continue_with(compute_average)

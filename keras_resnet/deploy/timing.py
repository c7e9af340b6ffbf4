"""Latency of a callable, as the exporters' reports and the Predictor measure it."""

from __future__ import annotations

import time

import numpy as np


def median_latency_ms(fn, x, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn(x)`` in milliseconds over ``repeats`` calls, after
    ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))

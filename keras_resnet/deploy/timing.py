"""Latency of a callable, as the exporters' reports and the Predictor measure it, and of
the Keras model itself (the reports' point of comparison)."""

from __future__ import annotations

import time

import numpy as np

from .serving import keras_call


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


# A timed block of calls lasts about this long (at least one call): short enough that
# every candidate of a round runs in the same phase of a shared machine, whose speed
# changes from one second to the next (a 0.2 ms call measured at 0.19 and 0.45 ms in
# phases about a second long, docs/benchmarks.md), long enough to average the jitter of
# a multi-threaded call.
BLOCK_SECONDS = 0.002


def interleaved_latency_ms(fns: dict, x, rounds: int = 10, warmup: int = 2,
                           block_seconds: float = BLOCK_SECONDS) -> dict:
    """Latency in milliseconds per call of each callable of ``fns`` on ``x``, timed side
    by side: in each of ``rounds`` rounds every callable runs one block of calls (as many
    as last about ``block_seconds``, sized on one call after ``warmup`` untimed ones, at
    least one), the order rotated from round to round; a callable's latency is the
    median over rounds of its block's mean time per call. Timing each callable in turn
    instead lets a slow phase of a shared machine fall on one of them and decide
    between close ones. ``{key: ms}`` for the keys of ``fns``."""
    names = list(fns)
    calls = {}
    for k in names:
        for _ in range(warmup):
            fns[k](x)
        t = time.perf_counter()
        fns[k](x)
        calls[k] = max(1, int(block_seconds / max(time.perf_counter() - t, 1e-7)))
    samples = {k: [] for k in names}
    for r in range(max(1, int(rounds))):
        shift = r % len(names)
        for k in names[shift:] + names[:shift]:
            n, f = calls[k], fns[k]
            t = time.perf_counter()
            for _ in range(n):
                f(x)
            samples[k].append((time.perf_counter() - t) / n)
    return {k: 1000 * float(np.median(v)) for k, v in samples.items()}


def keras_latency_key() -> str:
    """The report's name for the Keras model's own latency: how it was compiled
    (``"keras_tf_function"``, ``"keras_jax_jit"``)."""
    import keras

    return {"tensorflow": "keras_tf_function", "jax": "keras_jax_jit"}.get(
        keras.backend.backend(), f"keras_{keras.backend.backend()}")


def keras_batch1_ms(model, x) -> float:
    """Batch-1 latency (ms) of the Keras model itself on ``x[:1]``, compiled as the
    backend allows, to the outputs in numpy (JAX computes asynchronously: this waits
    for the result)."""
    import keras

    fn = keras_call(model)

    def run(a):
        return keras.tree.map_structure(keras.ops.convert_to_numpy, fn(a))

    return median_latency_ms(run, np.asarray(x[:1], "float32"), repeats=20, warmup=1)

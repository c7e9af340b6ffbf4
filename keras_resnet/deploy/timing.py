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

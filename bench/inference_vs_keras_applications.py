"""Inference speed of our ResNets against keras.applications' same architecture.

Both models are called through a tf.function (not model.predict, whose per-call
overhead would swamp batch-1 timings), with random weights, in one process. Runs
are interleaved (ours, theirs, theirs, ours, ...) so that drift in machine speed
hits both alike; the reported figure is the median of the per-round ratios.

    python bench/inference_vs_keras_applications.py [--depths 50] [--batches 1 32]
        [--rounds 15] [--out docs/bench]

Ratio > 1 means ours is faster. Do not run beside other work: it measures nothing then.
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# keras_resnet first: its import turns on TensorFlow's oneDNN kernels on CPUs where
# TensorFlow leaves them off (AVX2-only x86), as it does for a user (keras_resnet/cpu.py).
import keras_resnet  # noqa: E402  isort: skip
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402



def timed(fn, x, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn(x).numpy()
    return (time.perf_counter() - start) / repeats


def bench(depth, batch, rounds):
    ours = keras_resnet.build(f"resnet{depth}")
    theirs = getattr(keras.applications, f"ResNet{depth}")(weights=None)
    fns = {
        "ours": tf.function(lambda x: ours(x, training=False), jit_compile=False),
        "keras.applications": tf.function(lambda x: theirs(x, training=False),
                                          jit_compile=False),
    }
    x = tf.constant(np.random.default_rng(0).standard_normal((batch, 224, 224, 3)),
                    tf.float32)
    repeats = max(1, 8 // batch)
    for fn in fns.values():  # trace and warm up
        timed(fn, x, 2)
    times = {k: [] for k in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for k in order:
            times[k].append(timed(fns[k], x, repeats))
    ratios = [t / o for o, t in zip(times["ours"], times["keras.applications"])]
    return {
        "model": f"ResNet-{depth}",
        "batch": batch,
        "rounds": rounds,
        "ours_ms": 1000 * statistics.median(times["ours"]),
        "keras_applications_ms": 1000 * statistics.median(times["keras.applications"]),
        "ours_img_s": batch / statistics.median(times["ours"]),
        "keras_applications_img_s": batch / statistics.median(times["keras.applications"]),
        "median_speed_ratio": statistics.median(ratios),
        "min_ratio": min(ratios),
        "max_ratio": max(ratios),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[50])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--out", default="docs/bench")
    args = p.parse_args()
    results = []
    print(f"{'model':<11}{'batch':>6}{'ours ms':>10}{'k.apps ms':>11}{'ours img/s':>12}"
          f"{'ratio (median)':>16}{'range':>16}")
    for depth in args.depths:
        for batch in args.batches:
            r = bench(depth, batch, args.rounds)
            results.append(r)
            print(f"{r['model']:<11}{batch:>6}{r['ours_ms']:>10.1f}"
                  f"{r['keras_applications_ms']:>11.1f}{r['ours_img_s']:>12.1f}"
                  f"{r['median_speed_ratio']:>15.3f}x"
                  f"{r['min_ratio']:>8.2f}-{r['max_ratio']:.2f}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    meta = {"machine": cpu_name(), "cpus": os.cpu_count(),
            "tensorflow": tf.__version__, "keras": keras.__version__}
    with open(os.path.join(args.out, "inference_vs_keras_applications.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=2)
    plot(results, os.path.join(args.out, "inference_vs_keras_applications.png"))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plot(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    labels = [f"{r['model']}\nbatch {r['batch']}" for r in results]
    xs = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(results), 3.6))
    ax.bar(xs - 0.2, [r["ours_img_s"] for r in results], 0.4, label="keras_resnet")
    ax.bar(xs + 0.2, [r["keras_applications_img_s"] for r in results], 0.4,
           label="keras.applications")
    for x, r in zip(xs, results):
        ax.text(x, max(r["ours_img_s"], r["keras_applications_img_s"]) * 1.02,
                f"{r['median_speed_ratio']:.2f}x", ha="center")
    ax.set_ylim(0, 1.18 * max(max(r["ours_img_s"], r["keras_applications_img_s"])
                              for r in results))
    ax.set_xticks(xs, labels)
    ax.set_ylabel("images / s (tf.function, CPU)")
    ax.set_title("Inference throughput, interleaved runs (ratio = median per round)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

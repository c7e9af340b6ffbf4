"""Keras inference on TensorFlow with its oneDNN kernels on and off, side by side.

``import keras_resnet`` turns TensorFlow's oneDNN kernels on where TensorFlow leaves them
off (x86-64 CPUs without AVX512_VNNI, AVX512_BF16, AVX-VNNI or AMX; keras_resnet/cpu.py),
because training runs 1.8x faster with them there (docs/benchmarks.md, "Training
precision"). This measures what that switch does to inference through Keras itself (a
``tf.function`` call of the model with ``training=False``, the "Keras tf.function" path
of bench/inference_backends.py): ResNet-50 at 224x224 (batch 1 and 32) and the CIFAR
ResNet-20 at 32x32 (batch 1 and 128), random weights, float32.

The two settings cannot share a process (TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once,
at import), so each lives in its own worker process that builds the same models (same
seed) and traces them once, then waits; the parent asks the workers in turn for timed
calls, alternating which goes first every round, and reports the median time and the
median of the per-round ratios off/on (> 1: oneDNN on is faster). Only one worker
computes at any moment.

    python bench/tf_onednn_inference.py [--rounds 7] [--out docs/bench]
    python bench/tf_onednn_inference.py --smoke     # 1 round, small repeats: checks it runs

Do not run beside other work.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SETTINGS = {"oneDNN on": "1", "oneDNN off": "0"}
# (label, constructor, input shape, batch, calls per timing)
CASES = (("ResNet-50, batch 1", "resnet50", (224, 224, 3), 1, 8),
         ("ResNet-50, batch 32", "resnet50", (224, 224, 3), 32, 1),
         ("ResNet-20, batch 1", "resnet20", (32, 32, 3), 1, 50),
         ("ResNet-20, batch 128", "resnet20", (32, 32, 3), 128, 4))


# ------------------------------------------------------------------ worker
def worker(setting, repeat_scale):
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = SETTINGS[setting]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import keras_resnet  # noqa: F401  (before TensorFlow: keeps the setting above)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_resnet.cpu import tf_onednn_enabled

    if tf_onednn_enabled() != (setting == "oneDNN on"):
        raise RuntimeError(f"{setting}: TensorFlow reports oneDNN {tf_onednn_enabled()}")
    calls = {}
    for label, name, shape, batch, repeats in CASES:
        keras.utils.set_random_seed(0)
        model = keras_resnet.build(name, input_shape=shape, classes=10 if
                                   name == "resnet20" else 1000)
        fn = tf.function(lambda a, m=model: m(a, training=False))
        x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, *shape)),
                        "float32")
        fn(x).numpy()  # trace and warm up
        calls[label] = (fn, x, max(1, round(repeats * repeat_scale)))
    print("ready", flush=True)
    for line in sys.stdin:
        fn, x, repeats = calls[line.strip()]
        start = time.perf_counter()
        for _ in range(repeats):
            fn(x).numpy()
        print((time.perf_counter() - start) / repeats * 1e3, flush=True)


# ------------------------------------------------------------------ parent
def start_worker(setting, repeat_scale):
    proc = subprocess.Popen([sys.executable, __file__, "--worker", setting,
                             "--repeat-scale", str(repeat_scale)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"worker {setting!r} failed to start (see its stderr above)")
    return proc


def ask(proc, label):
    proc.stdin.write(label + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line.strip():
        raise RuntimeError(f"a worker stopped while timing {label!r} (see its stderr above)")
    return float(line)


def _cpu():
    from keras_resnet.cpu import cpu_flags  # (imports nothing heavy: no TensorFlow)

    name = platform.processor()
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    keep = {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile"}
    return name, sorted((cpu_flags() or set()) & keep)


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["case"] for r in result["rows"]]
    ratios = [r["ratio_off_over_on"] for r in result["rows"]]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(labels) + 1.4), dpi=120)
    ax.barh(labels[::-1], ratios[::-1],
            color=["#2ca02c" if v >= 1 else "#d62728" for v in ratios[::-1]])
    for i, r in enumerate(result["rows"][::-1]):
        ax.text(r["ratio_off_over_on"], i, f" {r['ratio_off_over_on']:.2f}x "
                f"({r['ratio_min']:.2f}–{r['ratio_max']:.2f})", va="center", fontsize=8)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlim(0, max(max(r["ratio_max"] for r in result["rows"]) * 1.3, 1.5))
    ax.set_xlabel(f"time off / time on, median of {result['rounds']} rounds "
                  "(> 1: oneDNN on is faster)")
    ax.set_title(f"Keras tf.function inference, TensorFlow oneDNN kernels on vs off\n"
                 f"{result['cpu']} ({result['cpu_count']} cores; "
                 f"{', '.join(result['cpu_flags'])})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default=None, help="folder for tf_onednn_inference.json/.png")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--repeat-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.repeat_scale)
    scale = 0.25 if args.smoke else 1.0
    rounds = 1 if args.smoke else args.rounds
    started = time.perf_counter()
    workers = {s: start_worker(s, scale) for s in SETTINGS}
    times = {(c[0], s): [] for c in CASES for s in SETTINGS}
    try:
        for r in range(rounds):
            for label, *_ in CASES:
                order = list(SETTINGS) if r % 2 == 0 else list(SETTINGS)[::-1]
                for s in order:
                    times[label, s].append(ask(workers[s], label))
            print(f"round {r + 1}/{rounds} done ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait()
    rows = []
    for label, *_ in CASES:
        on, off = times[label, "oneDNN on"], times[label, "oneDNN off"]
        ratios = [b / a for a, b in zip(on, off)]
        rows.append({"case": label, "on_ms": statistics.median(on),
                     "off_ms": statistics.median(off),
                     "ratio_off_over_on": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "on_ms_rounds": on, "off_ms_rounds": off})
        print(f"{label:22s} on {rows[-1]['on_ms']:9.1f} ms  off {rows[-1]['off_ms']:9.1f} ms"
              f"  off/on {rows[-1]['ratio_off_over_on']:.2f}x "
              f"({rows[-1]['ratio_min']:.2f}–{rows[-1]['ratio_max']:.2f})")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    name, flags = _cpu()
    result = {"rounds": rounds, "smoke": args.smoke, "cpu": name,
              "cpu_count": os.cpu_count(), "cpu_flags": flags,
              "tensorflow": importlib.metadata.version("tensorflow"), "rows": rows,
              "seconds": round(time.perf_counter() - started)}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        base = os.path.join(args.out, "tf_onednn_inference")
        with open(base + ".json", "w") as f:
            json.dump(result, f, indent=2)
        plot(result, base + ".png")
        print(f"wrote {base}.json and .png")
    return result


if __name__ == "__main__":
    main()

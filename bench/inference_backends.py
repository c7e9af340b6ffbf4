"""Inference latency of one set of ResNet weights on every CPU path, side by side:

* ``keras model.predict`` and ``keras tf.function`` (the Keras model as is);
* ``ours: native engine`` (keras_resnet.native), ``ours: TF graph`` (BatchNorm folded,
  variables frozen), ``ours: LiteRT fp32`` (TFLite + XNNPACK) and ``ONNX Runtime fp32``
  (our ONNX translation) — the four backends of ``keras_resnet.Predictor``, exactly as
  it builds them (the native engine only where it compiles);
* ``Predictor(auto)``: whichever of those four it picks (reported by name, and
  each path's ratio is reported on its own).

Then the TFLite variants (float32 / float16 / dynamic-range / int8) of the same
network: batch-1 latency, file size and top-1 agreement with Keras, on a trained
Fashion-MNIST ResNet-20 (real test images), and latency/size for ResNet-50.

Rounds are interleaved (the backend order reverses each round); medians are
reported with ratios computed per round. Achieved GFLOP/s (2 FLOPs per multiply-add)
is set against the machine's peak measured by ``bench/fma_peak.py`` in the same run.

    python bench/inference_backends.py [--depths 50 152] [--batches 1 32] [--rounds 7]
        [--small-model runs/resnet20_fashion_mnist] [--out docs/bench]

Do not run beside other work.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_resnet  # noqa: E402
from keras_resnet import inference  # noqa: E402
from tests.helpers import randomise as _randomise_bn  # noqa: E402  (random BN statistics)




def backends(model):
    fn = tf.function(lambda x: model(x, training=False))
    paths = {
        "keras model.predict": lambda x: model.predict(x, verbose=0),
        "keras tf.function": lambda x: fn(tf.constant(x)).numpy(),
    }
    for label, name in (("ours: native engine", "native"), ("ours: TF graph (BN folded)", "tf"),
                        ("ours: LiteRT fp32", "litert"), ("ONNX Runtime fp32", "onnxruntime")):
        try:
            paths[label] = inference._RUNNERS[name](model)
        except ImportError as e:
            print(f"skipping {label}: {e}")
    return paths


def time_paths(paths, x, rounds, repeats):
    for f in paths.values():  # build / trace / warm up
        f(x)
        f(x)
    times = {k: [] for k in paths}
    names = list(paths)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            for _ in range(repeats):
                paths[k](x)
            times[k].append((time.perf_counter() - start) / repeats)
    return times


def bench_depth(depth, batches, rounds, peak):
    model = keras_resnet.build(f"resnet{depth}", input_shape=(224, 224, 3))
    _randomise_bn(model)
    macs = keras_resnet.model_complexity(model).macs
    paths = backends(model)
    rows = []
    for batch in batches:
        x = np.random.default_rng(batch).uniform(-2, 2, (batch, 224, 224, 3)).astype("float32")
        ref = np.asarray(model(x, training=False))
        for k, f in paths.items():
            err = float(np.max(np.abs(np.asarray(f(x)) - ref)))
            assert err <= 1e-4 * max(1.0, float(np.abs(ref).max())), (k, err)
        times = time_paths(paths, x, rounds, repeats=max(1, 4 // batch))
        ort = times.get("ONNX Runtime fp32")
        ours = ("ours: native engine", "ours: TF graph (BN folded)", "ours: LiteRT fp32",
                "ONNX Runtime fp32")
        chosen = min((k for k in ours if k in times), key=lambda k: statistics.median(times[k]))
        for k, t in times.items():
            ms = 1000 * statistics.median(t)
            rows.append({
                "model": f"ResNet-{depth}", "batch": batch, "path": k, "ms": ms,
                "img_per_s": batch / (ms / 1000),
                "gflops": 2 * macs * batch / (ms / 1000) / 1e9,
                "pct_of_fma_peak": 100 * 2 * macs * batch / (ms / 1000) / 1e9 / peak,
                "ratio_vs_onnxruntime": (statistics.median([o / a for a, o in zip(t, ort)])
                                         if ort else None),
                "ratio_vs_tf_function": statistics.median(
                    [b / a for a, b in zip(t, times["keras tf.function"])]),
                "predictor_auto_picks": k == chosen,
            })
            print(f"ResNet-{depth} batch {batch:3d} {k:28s} {ms:9.1f} ms  "
                  f"{rows[-1]['gflops']:6.1f} GFLOP/s  vs ORT "
                  f"{rows[-1]['ratio_vs_onnxruntime'] or float('nan'):.2f}x"
                  + ("  <- Predictor(auto)" if k == chosen else ""), flush=True)
    return rows


def _load_small(path):
    """(model, test images, labels, train images) of a trained Fashion-MNIST run."""
    from keras_resnet.data.augment import eval_dataset
    from keras_resnet.data.sources import load_split

    mean = np.load(os.path.join(path, "pixel_mean.npy"))
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    weights = os.path.join(path, "model.keras")
    if os.path.exists(weights):
        model = keras_resnet.load_model(weights)
    else:
        model.load_weights(os.path.join(path, "checkpoints", "last.weights.h5"))
    data = "/usr/share/datasets/fashion-mnist"

    def arrays(split, n):
        xs, ys = [], []
        for x, y in eval_dataset(load_split(data, split).take(n), "cifar", mean, 500,
                                 channels=1):
            xs.append(x.numpy())
            ys.append(y.numpy())
        return np.concatenate(xs), np.concatenate(ys)

    x, y = arrays("test", 2000)
    rep, _ = arrays("train", 300)
    return model, x, y, rep


def tflite_variants(model, x, y, rep, label, rounds):
    """Each TFLite variant of ``model``: size, batch-1 latency against Keras, and
    top-1 agreement with Keras (and accuracy when labels ``y`` are given) on ``x``."""
    from keras_resnet import export

    fn = tf.function(lambda a: model(a, training=False))
    ref = np.concatenate([fn(tf.constant(x[i:i + 250])).numpy() for i in range(0, len(x), 250)])
    rows = []
    for q in (None, "float16", "dynamic", "int8"):
        content = export.tflite_flatbuffer(model, q, rep if q == "int8" else None)
        run = export._LiteRunner(content, "images", os.cpu_count())
        out = np.concatenate([next(iter(run(x[i:i + 1]).values())) for i in range(len(x))])
        ts = time_paths({"lite": run, "keras": lambda a: fn(tf.constant(a)).numpy()},
                        x[:1], rounds, repeats=20 if x.shape[1] < 100 else 3)
        row = {"model": label, "variant": q or "float32", "size_kb": len(content) / 1024,
               "latency_ms": 1000 * statistics.median(ts["lite"]),
               "keras_tf_function_ms": 1000 * statistics.median(ts["keras"]),
               "speedup_vs_keras": statistics.median(
                   [k / t for t, k in zip(ts["lite"], ts["keras"])]),
               "images": int(len(x)),
               "top1_agreement": float(np.mean(out.argmax(1) == ref.argmax(1))),
               "max_abs_error": float(np.max(np.abs(out - ref)))}
        if y is not None:
            row["accuracy"] = float(np.mean(out.argmax(1) == y))
            row["keras_accuracy"] = float(np.mean(ref.argmax(1) == y))
        rows.append(row)
        print(f"{label} TFLite {row['variant']:8s} {row['size_kb']:9.0f} KiB "
              f"{row['latency_ms']:8.2f} ms ({row['speedup_vs_keras']:.2f}x Keras) agreement "
              f"{row['top1_agreement']:.4f}", flush=True)
    return rows


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["backends"]
    groups = sorted({(r["model"], r["batch"]) for r in rows},
                    key=lambda g: (int(g[0].split("-")[1]), g[1]))
    paths = list(dict.fromkeys(r["path"] for r in rows))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.2), dpi=110,
                             squeeze=False)
    for ax, (model, batch) in zip(axes[0], groups):
        sel = {r["path"]: r for r in rows if r["model"] == model and r["batch"] == batch}
        vals = [sel[p]["img_per_s"] for p in paths if p in sel]
        names = [p for p in paths if p in sel]
        colors = ["#999999" if n.startswith("keras") else
                  "#d62728" if n.startswith("ONNX") else "#1f77b4" for n in names]
        ax.barh(names[::-1], vals[::-1], color=colors[::-1])
        ax.set_title(f"{model}, batch {batch}")
        ax.set_xlabel("images/s (median)")
        if ax is not axes[0][0]:
            ax.set_yticklabels([])
    fig.suptitle(f"CPU inference, fp32 (FMA peak {result['peak_gflops']:.0f} GFLOP/s)")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[50, 152])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--small-model", default="runs/resnet20_fashion_mnist",
                   help="a Fashion-MNIST ResNet-20 run directory for the TFLite table")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import fma_peak

    peaks = fma_peak.measure()
    peak = max(v for v in peaks["fma_probe"].values() if v)
    print(f"peak: FMA probe {peaks['fma_probe']} GFLOP/s, GEMM {peaks['gemm_2048']}", flush=True)
    rows = []
    for depth in args.depths:
        rows += bench_depth(depth, args.batches, args.rounds, peak)
    lite = []
    if os.path.isdir(args.small_model):
        model, x, y, rep = _load_small(args.small_model)
        lite += tflite_variants(model, x, y, rep, "ResNet-20 (Fashion-MNIST)", args.rounds)
    big = keras_resnet.build("resnet50", input_shape=(224, 224, 3))
    _randomise_bn(big)
    rng = np.random.default_rng(0)
    xb = rng.uniform(-2, 2, (8, 224, 224, 3)).astype("float32")
    lite += tflite_variants(big, xb, None, rng.uniform(-2, 2, (16, 224, 224, 3)).astype("float32"),
                            "ResNet-50 (random weights)", max(3, args.rounds // 2))
    import onnxruntime

    result = {"machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
              "keras": keras.__version__, "onnxruntime": onnxruntime.__version__,
              "peak": peaks, "peak_gflops": peak, "rounds": args.rounds,
              "backends": rows, "tflite": lite}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "inference_backends.json"), "w") as f:
            json.dump(result, f, indent=2)
        plot(result, os.path.join(args.out, "inference_backends.png"))
    return result


if __name__ == "__main__":
    main()

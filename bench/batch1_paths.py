"""Batch-1 ResNet-50 latency: every variant of our own paths that was tried against
ONNX Runtime fp32, side by side, and where the time goes.

Part 1 (variants). TensorFlow's threading and oneDNN settings are process-wide, so each
variant runs in a fresh process of its own (this script with ``--child``); one round
runs every variant once (order reversed on odd rounds), and a variant's ratio is taken
against the ONNX Runtime process of the same round. Every variant's output is checked
against the Keras model (rtol 1e-4) before it is timed. Variants:

* ``onnxruntime``: the Predictor's ONNX Runtime backend (our ONNX translation), the bar;
* ``tf``: the Predictor's TF graph (BN folded, variables frozen; Grappler fuses
  conv + bias + add + relu into oneDNN convolutions);
* the same graph with inter-op threads 1; intra 2 / inter 1; oneDNN off; oneDNN's
  thread pool using the caller thread; XLA ``jit_compile`` on the folded model;
* ``tf, 1x1 convs as MatMul``: the folded model lowered op by op to raw TF ops with
  every 1x1 convolution written as a matrix product (strided ones sliced first);
* ``litert`` (the Predictor's LiteRT backend, XNNPACK) and the same with the
  delegate's latest features switched on;
* ``numpy GEMMs only``: the sum of the times of the matrix products a NumPy/OpenBLAS
  engine would have to run (1x1 convs as GEMMs, kxk convs as im2col GEMMs) — a
  lower bound for such an engine (no im2col copies, bias, ReLU or adds counted).

Part 2 (profile). Per-convolution kernel times from TensorFlow's step stats (FULL_TRACE)
and from ONNX Runtime's profiler, grouped by kind (stem, 1x1, 3x3, projection), with
achieved GFLOP/s (2 FLOPs per multiply-add).

    python bench/batch1_paths.py [--rounds 3] [--repeats 30] [--out docs/bench]

Do not run beside other work.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import tables  # noqa: E402  (bench/tables.py: the markdown tables of every benchmark)

# name -> (what changes, extra environment)
VARIANTS = {
    "onnxruntime": ("Predictor's ONNX Runtime backend (reference)", {}),
    "native": ("Predictor's native backend: own AVX-512 kernel, fused, in-place layouts", {}),
    "tf": ("Predictor's TF graph: BN folded, frozen, oneDNN fused convs", {}),
    "tf, inter-op 1": ("same graph, inter_op_parallelism_threads=1", {}),
    "tf, intra 2 / inter 1": ("same graph, intra-op 2 and inter-op 1 threads", {}),
    "tf, oneDNN off": ("same graph, TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)",
                       {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "tf, oneDNN caller thread": ("same graph, TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1",
                                 {"TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD": "1"}),
    "tf, XLA jit": ("folded model under tf.function(jit_compile=True)", {}),
    "tf, 1x1 convs as MatMul": ("folded model lowered to raw TF ops, 1x1 convs as MatMul", {}),
    "litert": ("Predictor's LiteRT backend (XNNPACK, 2 threads)", {}),
    "litert, latest features": ("same file, experimental_default_delegate_latest_features", {}),
    "numpy GEMMs only": ("sum of the GEMMs a NumPy/OpenBLAS engine needs (lower bound)", {}),
}


# ------------------------------------------------------------------ child side
def _model(depth):
    sys.path.insert(0, ROOT)
    import keras_resnet
    from tests.helpers import randomise

    model = keras_resnet.build(f"resnet{depth}", input_shape=(224, 224, 3))
    randomise(model, 0)
    return model


def _lowered_matmul(model):
    """The folded model as raw TF ops, 1x1 convolutions written as matrix products."""
    import numpy as np
    import tensorflow as tf

    from keras_resnet import graphwalk, inference

    folded = inference.fold_batchnorm(model)
    layers = graphwalk.layers_in_order(folded)
    weights = {l.name: [np.asarray(w) for w in l.get_weights()] for l in layers}

    def forward(x):
        t = {id(folded.inputs[0]): x}
        for layer in layers:
            ins = [t[id(i)] for i in graphwalk.inputs_of(layer)]
            kind = type(layer).__name__
            w = weights[layer.name]
            if kind == "Conv2D" and layer.kernel_size == (1, 1):
                h = ins[0][:, ::layer.strides[0], ::layer.strides[1], :]
                y = tf.nn.bias_add(tf.matmul(tf.reshape(h, (-1, h.shape[-1])), w[0][0, 0]), w[1])
                y = tf.reshape(y, (-1, h.shape[1], h.shape[2], w[0].shape[-1]))
            elif kind == "Conv2D":
                y = tf.nn.bias_add(tf.nn.conv2d(ins[0], w[0], layer.strides,
                                                layer.padding.upper()), w[1])
            elif kind == "Activation":
                y = tf.nn.relu(ins[0])
            elif kind == "Add":
                y = ins[0] + ins[1]
            elif kind == "ZeroPadding2D":
                (a, b), (c, d) = layer.padding
                y = tf.pad(ins[0], [[0, 0], [a, b], [c, d], [0, 0]])
            elif kind == "MaxPooling2D":
                y = tf.nn.max_pool2d(ins[0], layer.pool_size, layer.strides,
                                     layer.padding.upper())
            elif kind == "GlobalAveragePooling2D":
                y = tf.reduce_mean(ins[0], axis=[1, 2])
            elif kind == "Dense":
                y = tf.nn.softmax(tf.matmul(ins[0], w[0]) + w[1])
            else:
                raise NotImplementedError(kind)
            t[id(graphwalk.output_of(layer))] = y
        return t[id(folded.outputs[0])]

    fn = tf.function(forward, autograph=False).get_concrete_function(
        tf.TensorSpec((None, 224, 224, 3), tf.float32))
    return lambda a: fn(tf.constant(a)).numpy()


def _numpy_gemm_bound(model, repeats):
    """Sum of median times of each convolution's GEMM in NumPy (random operands)."""
    import keras
    import numpy as np

    from keras_resnet.inference import median_latency_ms

    rng = np.random.default_rng(0)
    cache, total = {}, 0.0
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        _, ho, wo, cout = layer.output.shape
        kh, kw = layer.kernel_size
        key = (ho * wo, kh * kw * layer.input.shape[-1], cout)
        if key not in cache:
            a = rng.standard_normal(key[:2], dtype=np.float32)
            b = rng.standard_normal(key[1:], dtype=np.float32)
            cache[key] = median_latency_ms(lambda _, a=a, b=b: a @ b, None, repeats, warmup=3)
        total += cache[key]
    return total


def child(variant, depth, repeats):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    if variant == "tf, inter-op 1":
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if variant == "tf, intra 2 / inter 1":
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(2)
    from keras_resnet import inference

    model = _model(depth)
    if variant == "numpy GEMMs only":
        print(json.dumps({"ms": _numpy_gemm_bound(model, repeats), "max_abs_error": None}))
        return
    if variant == "onnxruntime":
        run = inference._RUNNERS["onnxruntime"](model)
    elif variant == "native":
        run = inference._RUNNERS["native"](model)
    elif variant.startswith("tf, XLA"):
        folded = inference.fold_batchnorm(model)
        fn = tf.function(lambda t: folded(t, training=False), jit_compile=True)
        run = lambda a: fn(tf.constant(a)).numpy()  # noqa: E731
    elif variant == "tf, 1x1 convs as MatMul":
        run = _lowered_matmul(model)
    elif variant.startswith("tf"):
        run = inference._RUNNERS["tf"](model)
    elif variant == "litert":
        run = inference._RUNNERS["litert"](model)
    elif variant == "litert, latest features":
        from ai_edge_litert import interpreter

        from keras_resnet.export import SIGNATURE, tflite_flatbuffer

        interp = interpreter.Interpreter(
            model_content=tflite_flatbuffer(model), num_threads=os.cpu_count(),
            experimental_default_delegate_latest_features=True)
        runner = interp.get_signature_runner(SIGNATURE)
        run = lambda a: next(iter(runner(images=a).values()))  # noqa: E731
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    x = np.random.default_rng(1).uniform(-2, 2, (1, 224, 224, 3)).astype("float32")
    ref = np.asarray(model(x, training=False))
    err = float(np.max(np.abs(np.asarray(run(x)) - ref)))
    if err > 1e-4 * max(1.0, float(np.abs(ref).max())):
        raise SystemExit(f"{variant}: output differs from Keras by {err}")
    print(json.dumps({"ms": inference.median_latency_ms(run, x, repeats, warmup=5),
                      "max_abs_error": err}))


# ------------------------------------------------------------------ profile
def _conv_table(model):
    """{conv layer name: (kind, multiply-adds)} of the model."""
    import keras

    table = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, ho, wo, cout = layer.output.shape
            kh, kw = layer.kernel_size
            macs = ho * wo * cout * kh * kw * layer.input.shape[-1]
            kind = ("stem 7x7" if layer.name == "conv1_conv" else
                    "projection 1x1" if layer.name.endswith("_0_conv") else f"{kh}x{kw}")
            table[layer.name] = (kind, macs)
    return table


def _candidates(name):
    """Conv layers a runtime node (TF fused op, ORT fused/NCHWc node) may stand for.
    A node named after a block's output ('..._out') is the convolution fused with the
    residual addition: the block's last conv, or its projection conv when that one
    was fused last instead."""
    base = re.sub(r"(_nchwc)?(_kernel_time)?$", "", name)
    parts = base.split("/")
    base = re.sub(r"_\d+$", "", parts[-2] if len(parts) > 1 else parts[0])
    if base.endswith("_out"):
        return [base[:-4] + "_3_conv", base[:-4] + "_0_conv"]
    return [re.sub(r"_(relu|bn)$", "_conv", base)]


def _group(times, convs):
    """{kind: [ms, macs]} from {(node name, is a convolution): ms}; nodes that are not
    convolutions (reorders, pads, pools, unfused adds) go to 'other ops'. Each conv
    layer must be found exactly once."""
    claimed = {}
    conv_nodes = [(n, ms) for (n, is_conv), ms in times.items() if is_conv]
    for n, ms in sorted(conv_nodes, key=lambda t: len(_candidates(t[0]))):
        conv = next((c for c in _candidates(n) if c in convs and c not in claimed), None)
        if conv is None:
            raise RuntimeError(f"no convolution layer left for runtime node {n}")
        claimed[conv] = ms
    missing = set(convs) - set(claimed)
    if missing:
        raise RuntimeError(f"convolutions not found in the profile: {sorted(missing)[:5]}")
    out = {}
    for conv, ms in claimed.items():
        kind, macs = convs[conv]
        row = out.setdefault(kind, [0.0, 0])
        row[0] += ms
        row[1] += macs
    out["other ops"] = [sum(ms for (n, is_conv), ms in times.items() if not is_conv), 0]
    return out


def profile(depth, runs=10):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    from keras_resnet import inference
    from keras_resnet.onnxgraph import to_onnx

    model = _model(depth)
    convs = _conv_table(model)
    x = np.random.default_rng(1).uniform(-2, 2, (1, 224, 224, 3)).astype("float32")

    frozen = inference._RUNNERS["tf"](model).frozen
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen.graph.as_graph_def(), name="")
    feed, fetch = frozen.inputs[0].name, frozen.outputs[0].name
    tf_times = {}
    with tf.compat.v1.Session(graph=graph) as sess:
        for _ in range(5):
            sess.run(fetch, {feed: x})
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for _ in range(runs):
            meta = tf.compat.v1.RunMetadata()
            sess.run(fetch, {feed: x}, options=options, run_metadata=meta)
            for dev in meta.step_stats.dev_stats:
                for n in dev.node_stats:
                    if n.node_name in ("_SOURCE", "_SINK"):
                        continue
                    key = (n.node_name, "Conv" in n.timeline_label)
                    tf_times[key] = tf_times.get(key, 0) + n.all_end_rel_micros / 1000 / runs

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join("/tmp", f"batch1_ort_{os.getpid()}")
    sess = ort.InferenceSession(to_onnx(model).SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    warmup = 5
    for _ in range(warmup + runs):
        sess.run(None, {name: x})
    prof = sess.end_profiling()
    with open(prof) as f:
        events = [e for e in json.load(f)
                  if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    os.remove(prof)
    events_before = warmup
    per_run = len(events) // (events_before + runs)
    ort_times = {}
    for e in events[events_before * per_run:]:
        key = (e["name"], e["args"].get("op_name") == "Conv")
        ort_times[key] = ort_times.get(key, 0) + e["dur"] / 1000 / runs
    tf_g, ort_g = _group(tf_times, convs), _group(ort_times, convs)
    kinds = sorted(set(tf_g) | set(ort_g), key=lambda k: (k == "other ops", k))
    rows = []
    for k in kinds:
        t, o = tf_g.get(k, [0.0, 0]), ort_g.get(k, [0.0, 0])
        macs = t[1] or o[1]
        rows.append({"kind": k, "macs": macs, "tf_ms": t[0], "ort_ms": o[0],
                     "tf_gflops": 2 * macs / (t[0] / 1000) / 1e9 if macs and t[0] else None,
                     "ort_gflops": 2 * macs / (o[0] / 1000) / 1e9 if macs and o[0] else None})
    print(json.dumps(rows))


# ------------------------------------------------------------------ parent side
def _spawn(args, env_extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env_extra)
    out = subprocess.run([sys.executable, os.path.abspath(__file__)] + args, env=env,
                         capture_output=True, text=True, cwd=ROOT)
    lines = [l for l in out.stdout.splitlines() if l.startswith(("{", "["))]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{args}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["variants"]
    names = [r["variant"] for r in rows][::-1]
    ratio = [r["ratio_vs_onnxruntime"] for r in rows][::-1]
    lo = [r["ratio_vs_onnxruntime"] - r["ratio_range"][0] for r in rows][::-1]
    hi = [r["ratio_range"][1] - r["ratio_vs_onnxruntime"] for r in rows][::-1]
    colors = ["#d62728" if n == "onnxruntime" else "#999999" if "only" in n else "#1f77b4"
              for n in names]
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    ax.barh(names, ratio, xerr=[lo, hi], color=colors, capsize=3)
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("speed vs ONNX Runtime fp32, same round (>1: faster)")
    ax.set_title(f"ResNet-{result['depth']}, batch 1, fp32: our paths vs ONNX Runtime "
                 f"(median, range of {result['rounds']} rounds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default=None, help="folder for batch1_paths.json / .png")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.child, a.depth, a.repeats)
    if a.profile:
        return profile(a.depth)
    names = ["onnxruntime"] + [v for v in a.variants if v != "onnxruntime"]
    ms = {v: [] for v in names}
    errors = {}
    for r in range(a.rounds):
        for v in (names if r % 2 == 0 else names[::-1]):
            got = _spawn(["--child", v, "--depth", str(a.depth), "--repeats", str(a.repeats)],
                         VARIANTS[v][1])
            ms[v].append(got["ms"])
            errors[v] = got["max_abs_error"]
            print(f"round {r + 1}/{a.rounds}  {v:28s} {got['ms']:7.2f} ms", flush=True)
    ref = ms["onnxruntime"]
    rows = []
    for v in names:
        ratios = [o / t for o, t in zip(ref, ms[v])]
        rows.append({"variant": v, "what": VARIANTS[v][0], "ms": statistics.median(ms[v]),
                     "ms_per_round": ms[v], "ratio_vs_onnxruntime": statistics.median(ratios),
                     "ratio_range": [min(ratios), max(ratios)], "max_abs_error": errors[v]})
    print("profiling ...", flush=True)
    result = {"depth": a.depth, "rounds": a.rounds, "repeats": a.repeats, "batch": 1,
              "cpu_count": os.cpu_count(), "variants": rows,
              "profile": _spawn(["--profile", "--depth", str(a.depth)], {})}
    print(tables.batch1(result))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "batch1_paths.json"), "w") as f:
            json.dump(result, f, indent=1)
        plot(result, os.path.join(a.out, "batch1_paths.png"))
        print("wrote", os.path.join(a.out, "batch1_paths.json"), "and .png")


if __name__ == "__main__":
    main()

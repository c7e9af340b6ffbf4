"""Where a training step's time goes: TensorFlow's profiler on what `keras-resnet train`
runs (CIFAR ResNet-20, batch 128, fused BN, compile() + fit()), in float32 and in
mixed_bfloat16, summed per kind of operation.

Each precision runs in its own worker process (the dtype policy is process-wide): it
builds the step, warms up, times ``--steps`` steps, then records ``--steps`` more under
``tf.profiler`` and sums the op events of TensorFlow's compute threads by op type
(``_MklNativeConv2DBackpropFilter``, ``ReluGrad``...). The sums are thread-time: with
two intra-op threads they can exceed the wall time. The convolution rows are split by
oneDNN's own names (forward, backward data, backward weights).

    python bench/profile_train_step.py [--steps 5] [--out docs/bench]

Writes ``profile_train_step.json`` and ``.png`` to ``--out``. Do not run beside other
work.
"""

import argparse
import collections
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

BATCH = 128
# the executor's own spans, which enclose the ops: not op time
EXECUTOR_SPANS = {"Process", "ExecutorDoneCallback"}
GROUPS = {  # op type -> what it is, for the table
    "_MklNativeConv2D": "convolution, forward",
    "_MklNativeConv2DBackpropInput": "convolution, backward data",
    "_MklNativeConv2DBackpropFilter": "convolution, backward weights",
    "_MklNativeFusedBatchNormV3": "fused BN, forward",
    "_MklNativeFusedBatchNormEx": "fused BN + ReLU, forward (grappler remapper)",
    "_MklNativeFusedBatchNormGradV3": "fused BN, backward",
    "ReluGrad": "ReLU, backward (Eigen)",
    "Relu": "ReLU, forward (Eigen)",
    "AddN": "gradient sums at the residual branches (Eigen)",
    "AddV2": "residual additions (Eigen)",
    "Cast": "dtype casts",
}


def worker(precision, steps, trace_dir):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import keras_resnet  # noqa: F401  (before TensorFlow: its oneDNN switch)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_resnet.training.fused_bn import use_fused_batchnorm

    if precision == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=10,
                               weight_decay=1e-4, classifier_activation=None)
    use_fused_batchnorm(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).standard_normal((BATCH, 32, 32, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, BATCH)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(2)
    it = iter(ds)
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)
    step = model.train_function
    for _ in range(3):
        logs = step(it)
    float(logs["loss"])
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(it)
    float(logs["loss"])
    wall_ms = (time.perf_counter() - start) / steps * 1000
    tf.profiler.experimental.start(trace_dir)
    for _ in range(steps):
        logs = step(it)
    float(logs["loss"])
    tf.profiler.experimental.stop()
    print(json.dumps({"wall_ms_per_step": wall_ms}))


def op_times(trace_dir, steps):
    """{op type: ms per step} summed over TensorFlow's compute threads."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    (path,) = glob.glob(os.path.join(trace_dir, "plugins", "profile", "*", "*.xplane.pb"))
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    total = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for ev in line.events:
                name = names.get(ev.metadata_id, "?")
                kind = name.rsplit(":", 1)[-1]
                if ":" not in name or kind in EXECUTOR_SPANS:
                    continue
                total[kind] += ev.duration_ps / 1e9 / steps
    return dict(total.most_common())


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    precisions = list(result["precisions"])
    kinds = [k for k in GROUPS if any(k in result["precisions"][p]["ops_ms_per_step"]
                                      for p in precisions)]
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=120)
    colours = plt.get_cmap("tab20").colors
    for i, p in enumerate(precisions):
        ops, left = result["precisions"][p]["ops_ms_per_step"], 0.0
        for j, k in enumerate(kinds):
            v = ops.get(k, 0.0)
            ax.barh(i, v, left=left, color=colours[j % 20], label=GROUPS[k] if i == 0 else None)
            left += v
        other = sum(v for k, v in ops.items() if k not in GROUPS)
        ax.barh(i, other, left=left, color="#cccccc", label="other" if i == 0 else None)
        ax.text(left + other, i, f"  wall {result['precisions'][p]['wall_ms_per_step']:.0f} "
                                 "ms/step", va="center", fontsize=8)
    ax.set_yticks(range(len(precisions)), precisions)
    ax.set_xlabel("thread-ms per training step (TensorFlow compute threads)")
    ax.set_title(f"ResNet-20 training step, batch {BATCH}: {result['cpu']}", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out", default=None)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--trace-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.steps, args.trace_dir)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from keras_resnet.cpu import cpu_bf16_units

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    result = {"cpu": cpu, "cpu_count": os.cpu_count(), "bf16_units": cpu_bf16_units() or [],
              "batch": BATCH, "steps": args.steps, "precisions": {}}
    for precision in ("float32", "bfloat16"):
        with tempfile.TemporaryDirectory(prefix="profile_train_step-") as trace:
            print(f"profiling {precision} ...", flush=True)
            done = subprocess.run([sys.executable, __file__, "--worker", precision,
                                   "--steps", str(args.steps), "--trace-dir", trace],
                                  capture_output=True, text=True, check=True)
            wall = json.loads(done.stdout.strip().splitlines()[-1])["wall_ms_per_step"]
            result["precisions"][precision] = {"wall_ms_per_step": wall,
                                               "ops_ms_per_step": op_times(trace, args.steps)}
    for precision, r in result["precisions"].items():
        total = sum(r["ops_ms_per_step"].values())
        print(f"\n{precision}: {r['wall_ms_per_step']:.1f} ms/step wall, {total:.1f} "
              "thread-ms of ops")
        for k, v in list(r["ops_ms_per_step"].items())[:14]:
            print(f"  {v:7.2f} ms  {100 * v / total:4.1f}%  {k}  {GROUPS.get(k, '')}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "profile_train_step.json"), "w") as f:
            json.dump(result, f, indent=2)
        plot(result, os.path.join(args.out, "profile_train_step.png"))
    return result


if __name__ == "__main__":
    main()

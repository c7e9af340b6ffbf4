"""CPU training throughput of a CIFAR ResNet-20 (batch 128, 32x32x3): ours (Keras 3
on TensorFlow, and on JAX) against an equivalent PyTorch model (torch CPU, NCHW and
channels_last), plus the Keras variants that try to close the gap.

Every variant lives in its own worker process (so process-wide settings such as
TensorFlow's thread pools or oneDNN can differ), builds its model and step once, then
waits; the parent asks the workers in turn for ``--steps`` timed steps, alternating the
order each round, and reports the median images/s and the median of the per-round
ratios against torch channels_last. Only one worker computes at any moment.

The PyTorch model is the same network: 3x3 stem, 3 stages of 3 basic units (16/32/64
filters), option-A shortcuts (stride-2 subsampling + zero channels), BN eps 1e-5,
SGD momentum 0.9, coupled weight decay 1e-4, same batch of random data each step.

    python bench/train_throughput_vs_torch.py [--rounds 7] [--steps 10] [--out docs/bench]
    python bench/train_throughput_vs_torch.py --smoke      # 1 round, 2 steps: checks it runs
    python bench/train_throughput_vs_torch.py --rounds 3 --steps 8 --name train_precision \
        --out docs/bench --variants "keras: model.fit" "keras: oneDNN on" \
        "keras: fused BN + model.fit" "keras: bf16 + model.fit" \
        "keras: bf16 + fused BN + model.fit" "keras (jax): model.fit" \
        "keras (jax): bf16 + model.fit" "keras (jax): oneDNN custom calls + model.fit" \
        "torch NCHW" "torch bf16 autocast channels_last"
    python bench/train_throughput_vs_torch.py --rounds 5 --steps 10 --name train_onednn \
        --out docs/bench --variants "keras: fused BN + model.fit" \
        "keras: fused BN + model.fit, oneDNN off"

Do not run beside other work.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

BATCH = 128

# name -> (environment for the worker, description)
VARIANTS = {
    "keras: tf.function step": ({}, "Keras model, custom tf.function train step"),
    "keras: model.fit": ({}, "compile() + fit() on a tf.data pipeline, Keras' own BN, "
                             "TensorFlow's oneDNN default for the CPU"),
    "keras: inter-op threads 1": ({"KR_INTER_OP": "1"},
                                  "tf.config.threading.set_inter_op_parallelism_threads(1)"),
    "keras: fused BN": ({"KR_FUSED_BN": "1"},
                        "BatchNormalization's training branch as one FusedBatchNormV3 op"),
    "keras: fused BN + model.fit": ({"KR_FUSED_BN": "1", "KR_FIT": "1",
                                     "TF_ENABLE_ONEDNN_OPTS": "1"},
                                    "fused BN, compile() + fit(), oneDNN kernels on: what "
                                    "keras-resnet train runs in float32"),
    "keras: fused BN + model.fit, oneDNN off": (
        {"KR_FUSED_BN": "1", "KR_FIT": "1", "TF_ENABLE_ONEDNN_OPTS": "0"},
        "the same with TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's default on CPUs without "
        "AVX512_VNNI, AVX512_BF16, AVX-VNNI or AMX)"),
    "keras: oneDNN off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "TF_ENABLE_ONEDNN_OPTS=0"),
    "keras: oneDNN on": ({"TF_ENABLE_ONEDNN_OPTS": "1"},
                         "TF_ENABLE_ONEDNN_OPTS=1 (TensorFlow's default only on CPUs with "
                         "AVX512_VNNI, AVX512_BF16, AVX-VNNI or AMX; import keras_resnet "
                         "sets it)"),
    "keras: XLA": ({"KR_XLA": "1"}, "jit_compile=True"),
    "keras: bf16 + model.fit": ({"KR_PRECISION": "mixed_bfloat16", "KR_FIT": "1",
                                 "TF_ENABLE_ONEDNN_OPTS": "1"},
                                "mixed_bfloat16 policy, Keras' own BN, compile() + fit()"),
    "keras: bf16 + fused BN + model.fit": (
        {"KR_PRECISION": "mixed_bfloat16", "KR_FUSED_BN": "1", "KR_FIT": "1",
         "TF_ENABLE_ONEDNN_OPTS": "1"},
        "what keras-resnet train --precision bfloat16 runs: mixed_bfloat16, the fused BN "
        "on bfloat16 images, compile() + fit()"),
    "keras (jax): model.fit": ({"KERAS_BACKEND": "jax", "KR_FIT": "1"},
                               "Keras 3 on the JAX backend (XLA CPU), Keras' own BN, "
                               "compile() + fit(); one fit() call per timed round"),
    "keras (jax): bf16 + model.fit": (
        {"KERAS_BACKEND": "jax", "KR_PRECISION": "mixed_bfloat16", "KR_FIT": "1"},
        "the same with the mixed_bfloat16 policy (keras-resnet train --precision "
        "bfloat16 under KERAS_BACKEND=jax)"),
    "keras (jax): oneDNN custom calls + model.fit": (
        {"KERAS_BACKEND": "jax", "KR_FIT": "1",
         "XLA_FLAGS": "--xla_cpu_experimental_onednn_custom_call=true"},
        "JAX with XLA:CPU's experimental oneDNN custom calls for convolutions and "
        "matmuls (XLA_FLAGS=--xla_cpu_experimental_onednn_custom_call=true)"),
    "keras: fused BN + model.fit, oneDNN fpmath bf16": (
        {"KR_FUSED_BN": "1", "KR_FIT": "1", "TF_ENABLE_ONEDNN_OPTS": "1",
         "ONEDNN_DEFAULT_FPMATH_MODE": "BF16"},
        "the float32 model with oneDNN's implicit bf16 math (ONEDNN_DEFAULT_FPMATH_MODE=BF16):"
        " convolutions and BN take float32 tensors and compute on the bf16 units; "
        "everything else stays float32"),
    "keras: bf16 + fused BN + model.fit, no AMX": (
        {"KR_PRECISION": "mixed_bfloat16", "KR_FUSED_BN": "1", "KR_FIT": "1",
         "TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
        "the bf16 step with oneDNN kept off the AMX tiles (ONEDNN_MAX_CPU_ISA="
        "AVX512_CORE_BF16): its convolutions on AVX512_BF16 vector instructions, as on "
        "CPUs without AMX"),
    "keras: bf16 + fused BN + model.fit, inter-op threads 1": (
        {"KR_PRECISION": "mixed_bfloat16", "KR_FUSED_BN": "1", "KR_FIT": "1",
         "TF_ENABLE_ONEDNN_OPTS": "1", "KR_INTER_OP": "1"},
        "the bf16 step with TensorFlow running one op at a time "
        "(inter_op_parallelism_threads=1), as PyTorch's eager mode does"),
    "keras: bf16 + fused BN + model.fit, XLA auto-clustering": (
        {"KR_PRECISION": "mixed_bfloat16", "KR_FUSED_BN": "1", "KR_FIT": "1",
         "TF_ENABLE_ONEDNN_OPTS": "1",
         "TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"},
        "the bf16 step with TensorFlow's XLA auto-clustering on the CPU (TF_XLA_FLAGS="
        "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit): XLA fuses the element-wise ops "
        "and compiles the convolutions it clusters"),
    "torch NCHW": ({}, "PyTorch eager, default memory format"),
    "torch channels_last": ({}, "PyTorch eager, channels_last"),
    "torch bf16 autocast channels_last": (
        {}, "PyTorch eager, channels_last, torch.autocast('cpu', dtype=torch.bfloat16)"),
}
REFERENCE = "torch channels_last"
# Per-round ratios between two variants, recorded when both run (issue 28's goals:
# bf16 >= 1.8x our fused float32, >= 1.3x PyTorch's bf16 autocast).
PAIRS = (("keras: bf16 + fused BN + model.fit", "keras: fused BN + model.fit"),
         ("keras: bf16 + fused BN + model.fit", "torch bf16 autocast channels_last"),
         ("keras: fused BN + model.fit, oneDNN fpmath bf16", "keras: fused BN + model.fit"),
         ("keras: fused BN + model.fit, oneDNN fpmath bf16",
          "torch bf16 autocast channels_last"),
         ("keras: bf16 + fused BN + model.fit, inter-op threads 1",
          "keras: bf16 + fused BN + model.fit"),
         ("keras: bf16 + fused BN + model.fit, XLA auto-clustering",
          "keras: bf16 + fused BN + model.fit"),
         ("torch bf16 autocast channels_last", "torch channels_last"))


# ------------------------------------------------------------------ workers
def keras_step_fn(name):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_resnet

    if os.environ.get("KR_INTER_OP"):
        tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["KR_INTER_OP"]))
    if os.environ.get("KR_PRECISION"):
        keras.config.set_dtype_policy(os.environ["KR_PRECISION"])
    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=10,
                               weight_decay=1e-4, classifier_activation=None)
    if os.environ.get("KR_FUSED_BN"):
        from keras_resnet.training.fused_bn import use_fused_batchnorm

        use_fused_batchnorm(model)
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x = np.random.default_rng(0).standard_normal((BATCH, 32, 32, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, BATCH)
    if name.endswith("model.fit") or os.environ.get("KR_FIT"):
        model.compile(optimizer=opt, loss=loss_fn)
        ds = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(2)
        if keras.backend.backend() == "jax":
            # JAX's train_function takes and returns the model state; fit() keeps
            # that state on the devices for a whole epoch, so each round is one fit()
            def run_fit(steps):
                history = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
                float(history.history["loss"][-1])

            return run_fit
        it = iter(ds)
        model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # builds train_function
        train_function = model.train_function

        def run(steps):
            for _ in range(steps):
                logs = train_function(it)
            float(np.asarray(logs["loss"]))

        return run

    opt.build(model.trainable_variables)

    @tf.function(jit_compile=bool(os.environ.get("KR_XLA")))
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    xt, yt = tf.constant(x), tf.constant(y)

    def run(steps):
        for _ in range(steps):
            loss = step(xt, yt)
        loss.numpy()

    return run


def torch_step_fn(channels_last: bool, bf16: bool = False):
    import contextlib

    import torch
    from torch import nn

    class Shortcut(nn.Module):  # option A
        def __init__(self, extra, stride):
            super().__init__()
            self.extra, self.stride = extra, stride

        def forward(self, x):
            x = x[:, :, ::self.stride, ::self.stride]
            return nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))

    class Unit(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.short = Shortcut(cout - cin, stride) if (stride > 1 or cin != cout) else None

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (self.short(x) if self.short else x))

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for i, w in enumerate((16, 32, 64)):
        for j in range(3):
            layers.append(Unit(cin, w, 2 if (i > 0 and j == 0) else 1))
            cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    model = nn.Sequential(*layers)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(BATCH, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (BATCH,))
    loss_fn = nn.CrossEntropyLoss()

    def run(steps):
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            with (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
                  else contextlib.nullcontext()):
                loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        loss.item()

    return run


def worker(name):
    if name.startswith("torch"):
        run = torch_step_fn(channels_last=name.endswith("channels_last"),
                            bf16="bf16" in name)
    else:
        run = keras_step_fn(name)
    run(3)  # trace / warm up
    print("ready", flush=True)
    for line in sys.stdin:
        steps = int(line)
        start = time.perf_counter()
        run(steps)
        print(steps * BATCH / (time.perf_counter() - start), flush=True)


# ------------------------------------------------------------------ parent
def start_worker(name):
    env = {**os.environ, **VARIANTS[name][0]}
    proc = subprocess.Popen([sys.executable, __file__, "--worker", name], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"worker {name!r} failed to start (see its stderr above)")
    return proc


def ask(proc, steps):
    proc.stdin.write(f"{steps}\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def _cpu_model():
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["images_per_s_median"])
    rates = [result["images_per_s_median"][n] for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2), dpi=120)
    colors = ["#1f77b4" if n.startswith("keras") else "#d62728" for n in names]
    ax.barh(names[::-1], rates[::-1], color=colors[::-1])
    for i, (n, r) in enumerate(zip(names[::-1], rates[::-1])):
        ax.text(r, i, f" {r:.0f} ({result['ratio_vs_reference'][n]:.2f}x)", va="center",
                fontsize=8)
    ax.set_xlabel(f"images/s (median of {result['rounds']} rounds)\n"
                  f"in brackets: ratio vs {REFERENCE}")
    units = ", ".join(result.get("bf16_units") or []) or "no bf16 units"
    cpu = f"{result.get('cpu_model', 'CPU')}, {result.get('cpu_count', '?')} cores, {units}"
    ax.set_title(f"CIFAR ResNet-20 training, batch 128\n{cpu}", fontsize=10)
    ax.set_xlim(0, max(rates) * 1.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default=None)
    p.add_argument("--name", default="train_throughput_vs_torch",
                   help="file name (no suffix) of the JSON and PNG written to --out")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.smoke:
        args.rounds, args.steps = 1, 2
    names = list(args.variants)
    if REFERENCE not in names:
        names.append(REFERENCE)
    workers = {}
    try:
        for n in names:
            print(f"starting {n} ...", flush=True)
            workers[n] = start_worker(n)
        rates = {n: [] for n in names}
        for r in range(args.rounds):
            for n in (names if r % 2 == 0 else names[::-1]):
                rates[n].append(ask(workers[n], args.steps))
            print(f"round {r + 1}/{args.rounds}: "
                  + ", ".join(f"{n} {rates[n][-1]:.0f}" for n in names), flush=True)
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait()
    import keras
    import tensorflow as tf
    import torch

    from keras_resnet.cpu import TF_ONEDNN_DEFAULT_FLAGS, cpu_bf16_units, cpu_flags

    ref = rates[REFERENCE]
    result = {
        "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(), "bf16_units": cpu_bf16_units() or [],
        # the CPU features for which TensorFlow turns oneDNN on by itself (none: off
        # unless TF_ENABLE_ONEDNN_OPTS=1)
        "tf_onednn_default_features": sorted((cpu_flags() or set())
                                             & set(TF_ONEDNN_DEFAULT_FLAGS)),
        "tensorflow": tf.__version__, "keras": keras.__version__, "torch": torch.__version__,
        "batch": BATCH, "rounds": args.rounds, "steps_per_round": args.steps,
        "reference": REFERENCE,
        "variants": {n: VARIANTS[n][1] for n in names},
        "images_per_s_median": {n: statistics.median(v) for n, v in rates.items()},
        "ratio_vs_reference": {n: statistics.median([a / b for a, b in zip(v, ref)])
                               for n, v in rates.items()},
        "ratio_range": {n: [min(a / b for a, b in zip(v, ref)), max(a / b for a, b in zip(v, ref))]
                        for n, v in rates.items()},
        "images_per_s_rounds": rates,
        "pair_ratios": {
            f"{a} / {b}": {"median": statistics.median([x / y for x, y in zip(rates[a], rates[b])]),
                           "range": [min(x / y for x, y in zip(rates[a], rates[b])),
                                     max(x / y for x, y in zip(rates[a], rates[b]))]}
            for a, b in PAIRS if a in rates and b in rates},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
            json.dump(result, f, indent=2)
        plot(result, os.path.join(args.out, f"{args.name}.png"))
    return result


if __name__ == "__main__":
    main()

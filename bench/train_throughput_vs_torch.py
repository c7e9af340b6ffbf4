"""CPU training throughput of a CIFAR ResNet-20 (batch 128, 32x32x3): ours (Keras 3 on
TensorFlow, a compiled train step) against an equivalent PyTorch model (torch CPU, NCHW
and channels_last), in one process, rounds interleaved, median of per-round ratios.

The PyTorch model is the same network: 3x3 stem, 3 stages of 3 basic units (16/32/64
filters), option-A shortcuts (stride-2 subsampling + zero channels), BN eps 1e-5 /
momentum 0.1 (torch's convention), SGD momentum 0.9, coupled weight decay 1e-4.
(TensorFlow's CPU convolutions are NHWC-only, so the layout variants are torch's.)

    python bench/train_throughput_vs_torch.py [--rounds 7] [--steps 10] [--out docs/bench]
    python bench/train_throughput_vs_torch.py --smoke      # 1 round, 2 steps: checks it runs

Ratio > 1: ours is faster. Do not run beside other work.
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_resnet  # noqa: E402

BATCH = 128


def keras_step_fn():
    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=10,
                               weight_decay=1e-4, classifier_activation=None)
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt.build(model.trainable_variables)

    @tf.function(jit_compile=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x = tf.constant(np.random.default_rng(0).standard_normal((BATCH, 32, 32, 3)), tf.float32)
    y = tf.constant(np.random.default_rng(1).integers(0, 10, BATCH))
    return lambda: step(x, y).numpy()


def torch_step_fn(channels_last: bool):
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

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def timed(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", default=None)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.rounds, args.steps = 1, 2
    import torch

    fns = {"ours (Keras/TF)": keras_step_fn(),
           "torch NCHW": torch_step_fn(False),
           "torch channels_last": torch_step_fn(True)}
    for f in fns.values():  # warm up / trace
        for _ in range(2):
            f()
    rates = {k: [] for k in fns}
    order = list(fns)
    for r in range(args.rounds):
        for k in (order if r % 2 == 0 else order[::-1]):
            rates[k].append(timed(fns[k], args.steps))
    ours = rates["ours (Keras/TF)"]
    result = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "batch": BATCH,
        "images_per_s_median": {k: statistics.median(v) for k, v in rates.items()},
        "ratio_ours_over": {k: statistics.median([a / b for a, b in zip(ours, v)])
                            for k, v in rates.items() if k != "ours (Keras/TF)"},
        "rounds": args.rounds, "steps_per_round": args.steps,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "train_throughput_vs_torch.json"), "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()

"""ResNet-50 training throughput on one GPU: keras_resnet under Keras 3 with the JAX
backend, beside torchvision's ResNet-50 under PyTorch, both in mixed precision
(bfloat16 compute, float32 weights), on synthetic data already on the GPU.

    python bench/gpu_train_throughput.py                 # on a GPU machine
    python bench/gpu_train_throughput.py --smoke         # tiny sizes, CPU, checks the script

Each framework runs in its own subprocess, one after the other, so that neither holds
GPU memory while the other runs. Each does `--warmup` steps (compilation included),
then times `--steps` steps and waits for the device before stopping the clock.

* keras: ResNet-50 v1.5 (torchvision's stride placement, the same FLOPs as
  torchvision's model) and v1 (the paper's), each with a jitted train step over `model.stateless_call` and
  `optimizer.stateless_apply` (Keras 3's documented JAX training-loop pattern), SGD with
  momentum 0.9, policy `mixed_bfloat16`, XLA-compiled by JAX.
* torch: torchvision.models.resnet50, channels_last, `torch.autocast(bfloat16)`, SGD
  momentum 0.9; eager, and `torch.compile` unless `--no-torch-compile`.

Not a test: the GPU machine is lent only sometimes, and nothing depends on it.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def keras_worker(args):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import keras_resnet

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    size, batch = args.size, args.batch
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.standard_normal((batch, size, size, 3)).astype("float32"))
    y = jax.device_put(rng.integers(0, 1000, batch).astype("int32"))
    rows = []
    # v1.5 is torchvision's architecture (same FLOPs); v1 is the paper's.
    for placement in ("v1.5", "v1"):
        model = keras_resnet.ResNet50(weights=None, input_shape=(size, size, 3),
                                      classifier_activation=None,
                                      stride_placement=placement)
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
        optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def compute_loss(trainable, non_trainable, x, y, model=model, loss_fn=loss_fn):
            logits, non_trainable = model.stateless_call(trainable, non_trainable, x,
                                                         training=True)
            return loss_fn(y, logits), non_trainable

        grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

        @jax.jit
        def train_step(state, x, y, grad_fn=grad_fn, optimizer=optimizer):
            trainable, non_trainable, opt_vars = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return loss, (trainable, non_trainable, opt_vars)

        state = ([v.value for v in model.trainable_variables],
                 [v.value for v in model.non_trainable_variables],
                 [v.value for v in optimizer.variables])
        start = time.perf_counter()
        for _ in range(args.warmup):
            loss, state = train_step(state, x, y)
        loss.block_until_ready()
        warmup_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.steps):
            loss, state = train_step(state, x, y)
        loss.block_until_ready()
        elapsed = time.perf_counter() - start
        rows.append({
            "framework": f"keras_resnet {placement} (Keras 3 + JAX, jit)",
            "versions": f"keras {keras.__version__}, jax {jax.__version__}",
            "device": str(jax.devices()[0].device_kind),
            "img_s": batch * args.steps / elapsed,
            "step_ms": 1000 * elapsed / args.steps,
            "warmup_s": warmup_s,
            "final_loss": float(loss),
        })
        del state, model, optimizer
    return rows


def torch_worker(args):
    import torch
    import torch.nn.functional as F
    import torchvision

    device = "cuda" if torch.cuda.is_available() else "cpu"
    size, batch = args.size, args.batch
    x = torch.randn(batch, 3, size, size, device=device).to(
        memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    rows = []
    variants = [("eager", False)] + ([] if args.no_torch_compile else [("compile", True)])
    for label, compiled in variants:
        torch.manual_seed(0)
        model = torchvision.models.resnet50().to(device).to(
            memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        forward = torch.compile(model) if compiled else model

        def step():
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = F.cross_entropy(forward(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        def sync():
            if device == "cuda":
                torch.cuda.synchronize()

        start = time.perf_counter()
        for _ in range(args.warmup):
            loss = step()
        sync()
        warmup_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        sync()
        elapsed = time.perf_counter() - start
        rows.append({
            "framework": f"torchvision resnet50 (PyTorch, {label}, channels_last)",
            "versions": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "img_s": batch * args.steps / elapsed,
            "step_ms": 1000 * elapsed / args.steps,
            "warmup_s": warmup_s,
            "final_loss": float(loss),
        })
        del model, opt, forward
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--frameworks", nargs="+", default=["keras", "torch"])
    p.add_argument("--no-torch-compile", action="store_true")
    p.add_argument("--smoke", action="store_true", help="batch 2, 64x64, 2 steps")
    p.add_argument("--out", default=None, help="folder for the JSON results and plot")
    p.add_argument("--replot", metavar="JSON", help="redraw the plot of a saved result")
    p.add_argument("--worker", choices=["keras", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.replot:
        with open(args.replot) as f:
            saved = json.load(f)
        args.batch = saved["batch"]
        plot(saved["results"], args, os.path.splitext(args.replot)[0] + ".png")
        return
    if args.smoke:
        args.batch, args.size, args.steps, args.warmup = 2, 64, 2, 1
        args.no_torch_compile = True

    if args.worker:
        rows = {"keras": keras_worker, "torch": torch_worker}[args.worker](args)
        print("RESULT" + json.dumps(rows), flush=True)
        return

    rows = []
    for fw in args.frameworks:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw,
               "--batch", str(args.batch), "--size", str(args.size),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
        if args.no_torch_compile:
            cmd.append("--no-torch-compile")
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{fw} failed:\n{out.stderr[-4000:]}", file=sys.stderr)
            continue
        rows += json.loads(out.stdout.split("RESULT", 1)[1])
    if not rows:
        sys.exit(1)
    base = next((r for r in rows if r["framework"].startswith("keras_resnet v1.5")), rows[0])
    print(f"ResNet-50 training, batch {args.batch}, {args.size}x{args.size}, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps, bf16 mixed precision")
    print(f"{'framework':<58}{'img/s':>9}{'ms/step':>9}{'vs ours':>10}{'warm-up s':>11}")
    for r in rows:
        print(f"{r['framework']:<58}{r['img_s']:>9.0f}{r['step_ms']:>9.1f}"
              f"{r['img_s'] / base['img_s']:>9.2f}x{r['warmup_s']:>11.1f}")
    for r in rows:
        print(f"  {r['framework']}: {r['versions']} on {r['device']}; "
              f"final loss {r['final_loss']:.3f}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gpu_train_throughput.json"), "w") as f:
            json.dump({"batch": args.batch, "size": args.size, "steps": args.steps,
                       "warmup": args.warmup, "results": rows}, f, indent=2)
        plot(rows, args, os.path.join(args.out, "gpu_train_throughput.png"))


def plot(rows, args, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * len(rows)))
    names = [r["framework"] for r in rows]
    ax.barh(range(len(rows)), [r["img_s"] for r in rows])
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_xlabel("training images / s")
    for i, r in enumerate(rows):
        ax.text(r["img_s"], i, f" {r['img_s']:.0f}", va="center")
    ax.set_xlim(0, 1.15 * max(r["img_s"] for r in rows))
    ax.set_title(f"ResNet-50 training, {rows[0]['device']}\nbatch {args.batch}, bf16 mixed precision")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

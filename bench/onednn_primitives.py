"""Where a bf16 training step spends its oneDNN time, TensorFlow beside PyTorch: the
same CIFAR ResNet-20 step as bench/train_throughput_vs_torch.py (batch 128; ours:
what ``keras-resnet train --precision bfloat16`` runs, mixed_bfloat16 with the fused
BN; PyTorch: channels_last under ``torch.autocast('cpu', dtype=torch.bfloat16)``),
each run with oneDNN's own execution log on (``ONEDNN_VERBOSE=1``), summed per
primitive kind (convolution forward / backward data / backward weights, batch norm,
reorders...) with the kernel each kind ran (``brg_conv_fwd:avx512_core_bf16``...).

Both frameworks call the same library, so this shows whether a difference between their
steps lies in oneDNN's kernels or in what each framework does around them. TensorFlow's
executor may run two independent ops at once (a layer's backward-data and
backward-weights convolutions, say), each then taking the other's threads; its logged
times would overlap and not add up, so its worker runs one op at a time
(``inter_op_parallelism_threads=1``, ``--inter-op`` to change). PyTorch's eager mode
runs one op at a time anyway. Each primitive's time is oneDNN's wall time for that call;
ops outside oneDNN (TensorFlow's Eigen element-wise kernels, PyTorch's own batch norm and
ReLU, both optimizers) are not in the log: what they cost shows as the step's wall time
(timed in the same worker, log on, so each primitive call also writes one line) minus the
oneDNN rows. Each round starts one fresh worker per framework, alternating which goes
first; the rows give medians over the rounds.

    python bench/onednn_primitives.py [--rounds 3] [--steps 5] [--threads 2] [--out docs/bench]

Writes ``onednn_primitives.json`` and ``.png`` to ``--out``. Do not run beside other
work; oneDNN's log is long (thousands of lines per step): it goes to a temporary file.
"""

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train_throughput_vs_torch import BATCH  # noqa: E402  (the same step, the same batch)

MARK, END = "=== timed steps", "=== end"
# (primitive kind, propagation kind) in oneDNN's log -> row of the table
KINDS = {
    ("convolution", "forward_training"): "convolution, forward",
    ("convolution", "backward_data"): "convolution, backward data",
    ("convolution", "backward_weights"): "convolution, backward weights",
    ("batch_normalization", "forward_training"): "batch norm, forward",
    ("batch_normalization", "backward"): "batch norm, backward",
    ("reorder", "undef"): "reorders (weights into the kernels' layouts)",
}
FRAMEWORKS = ("tensorflow", "torch")


# The step each framework runs: bench/train_throughput_vs_torch.py's, so that this
# log explains that benchmark's rows.
KERAS_VARIANT = "keras: bf16 + fused BN + model.fit"
TORCH_VARIANT = "torch bf16 autocast channels_last"


def worker(framework, steps, threads, inter_op):
    """Warm up, time ``steps`` steps (wall), then run ``steps`` more between two marks
    in the log. oneDNN's log goes to stdout; the marks and the timing too."""
    sys.path.insert(0, os.path.dirname(HERE))
    import train_throughput_vs_torch as throughput

    if framework == "tensorflow":
        os.environ.update(throughput.VARIANTS[KERAS_VARIANT][0],
                          KR_INTER_OP=str(inter_op))
        import keras_resnet  # noqa: F401  (before TensorFlow: its oneDNN switch)
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        run = throughput.keras_step_fn(KERAS_VARIANT)
    else:
        import torch

        torch.set_num_threads(threads)
        run = throughput.torch_step_fn(channels_last=TORCH_VARIANT.endswith("channels_last"),
                                       bf16="bf16" in TORCH_VARIANT)
    run(3)  # trace / warm up
    start = time.perf_counter()
    run(steps)
    wall = (time.perf_counter() - start) / steps * 1000
    print(f"{MARK} wall_ms_per_step={wall}", flush=True)
    run(steps)
    print(END, flush=True)


def versions():
    """{package: version} of what the workers run, read without importing them."""
    from importlib import metadata

    found = {}
    for name in ("tensorflow", "keras", "torch"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def parse(log, steps):
    """{row: {"ms": ms per step, "calls": calls per step, "kernels": [names]}} from the
    lines of oneDNN's log between the marks, and the wall ms per step."""
    body = log.split(MARK, 1)[1]
    wall = float(body.split("\n", 1)[0].split("=", 1)[1])
    body = body.split(END, 1)[0]
    rows = collections.defaultdict(lambda: {"ms": 0.0, "calls": 0, "kernels": set()})
    for line in body.splitlines():
        f = line.split(",")
        # onednn_verbose,[timestamp,]v1,primitive,exec,cpu,<kind>,<kernel>,<prop>,...,<ms>
        if not line.startswith("onednn_verbose") or "exec" not in f:
            continue
        i = f.index("exec")
        kind, kernel, prop = f[i + 2], f[i + 3], f[i + 4]
        row = KINDS.get((kind, prop), "other oneDNN primitives")
        rows[row]["ms"] += float(f[-1]) / steps
        rows[row]["calls"] += 1
        rows[row]["kernels"].add(kernel)
    out = {r: {"ms": v["ms"], "calls": v["calls"] // steps, "kernels": sorted(v["kernels"])}
           for r, v in rows.items()}
    return out, wall


def run_worker(framework, steps, threads, inter_op):
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", framework, "--steps", str(steps),
             "--threads", str(threads), "--inter-op", str(inter_op)],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.seek(0)
        text = log.read()
    if proc.returncode or MARK not in text:
        tail = "\n".join(text.splitlines()[-20:])
        raise RuntimeError(f"the {framework} worker failed (exit {proc.returncode}):\n{tail}")
    versions = re.findall(r"oneDNN (v[0-9.]+)", text)[:1]
    runtime = [l.split("runtime:", 1)[1].split(",")[0] for l in text.splitlines()
               if "runtime:" in l][:1]
    rows, wall = parse(text, steps)
    return {"onednn": (versions or ["?"])[0], "onednn_runtime": (runtime or ["?"])[0],
            "wall_ms_per_step": wall, "rows": rows}


def combine(runs):
    """One worker's rounds as one record: per row the median ms per step over the rounds
    (and its range), the kernels seen in any round; the median wall time."""
    rows = {}
    for name in {k for run in runs for k in run["rows"]}:
        ms = [run["rows"].get(name, {}).get("ms", 0.0) for run in runs]
        rows[name] = {"ms": statistics.median(ms), "ms_range": [min(ms), max(ms)],
                      "calls": max(run["rows"].get(name, {}).get("calls", 0) for run in runs),
                      "kernels": sorted({k for run in runs
                                         for k in run["rows"].get(name, {}).get("kernels", [])
                                         if k})}
    walls = [run["wall_ms_per_step"] for run in runs]
    return {"onednn": runs[0]["onednn"], "onednn_runtime": runs[0]["onednn_runtime"],
            "wall_ms_per_step": statistics.median(walls), "wall_range": [min(walls), max(walls)],
            "rows": rows}


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in list(KINDS.values()) + ["other oneDNN primitives"]
            if any(r in result[f]["rows"] for f in FRAMEWORKS)]
    fig, ax = plt.subplots(figsize=(8, 3.0), dpi=120)
    colours = plt.get_cmap("tab10").colors
    for i, f in enumerate(FRAMEWORKS):
        left = 0.0
        for j, r in enumerate(rows):
            v = result[f]["rows"].get(r, {}).get("ms", 0.0)
            ax.barh(i, v, left=left, color=colours[j % 10], label=r if i == 0 else None)
            left += v
        wall = result[f]["wall_ms_per_step"]
        ax.plot([wall, wall], [i - 0.4, i + 0.4], color="black", lw=2,
                label="step wall time" if i == 0 else None)
    ax.set_yticks(range(len(FRAMEWORKS)), ["ours (TensorFlow)", "PyTorch autocast"])
    ax.set_xlabel("ms per training step (oneDNN's own timing of each call)")
    ax.set_title(f"bf16 ResNet-20 step, batch {BATCH}: {result['cpu']}, "
                 f"{result['threads']} threads", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="logged steps per worker")
    p.add_argument("--rounds", type=int, default=3,
                   help="workers per framework, alternating (each a fresh process)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="compute threads of each framework (default: all cores)")
    p.add_argument("--inter-op", type=int, default=1,
                   help="TensorFlow ops run at once (default 1: the logged times add up)")
    p.add_argument("--out", default=None)
    p.add_argument("--worker", default=None, choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.steps, args.threads, args.inter_op)
    sys.path.insert(0, os.path.dirname(HERE))
    from keras_resnet.cpu import cpu_bf16_units

    from train_throughput_vs_torch import _cpu_model

    result = {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "bf16_units": cpu_bf16_units() or [],
              "versions": versions(),
              "batch": BATCH, "steps": args.steps, "threads": args.threads,
              "tensorflow_inter_op": args.inter_op}
    runs = {f: [] for f in FRAMEWORKS}
    for r in range(args.rounds):
        for f in (FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]):
            print(f"round {r + 1}/{args.rounds}: {f}, {args.steps} logged steps ...",
                  flush=True)
            runs[f].append(run_worker(f, args.steps, args.threads, args.inter_op))
    result["rounds"] = args.rounds
    for f in FRAMEWORKS:
        result[f] = combine(runs[f])
    conv = {f: [sum(v["ms"] for k, v in run["rows"].items() if k.startswith("convolution"))
                for run in runs[f]] for f in FRAMEWORKS}
    ratios = [a / b for a, b in zip(conv["tensorflow"], conv["torch"])]
    result["convolutions_tf_over_torch"] = {"median": statistics.median(ratios),
                                            "range": [min(ratios), max(ratios)]}
    for f in FRAMEWORKS:
        r = result[f]
        print(f"\n{f} (oneDNN {r['onednn']}, {r['onednn_runtime']}): wall "
              f"{r['wall_ms_per_step']:.1f} ms/step (median of {args.rounds} workers)")
        for row, v in sorted(r["rows"].items(), key=lambda kv: -kv[1]["ms"]):
            print(f"  {v['ms']:7.2f} ms  {v['calls']:3d} calls  {row}  "
                  f"[{', '.join(v['kernels'])}]")
    c = result["convolutions_tf_over_torch"]
    print(f"\nconvolutions, TensorFlow / PyTorch time: {c['median']:.2f}x "
          f"({c['range'][0]:.2f}-{c['range'][1]:.2f} over the rounds)")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "onednn_primitives.json"), "w") as fh:
            json.dump(result, fh, indent=2)
        plot(result, os.path.join(args.out, "onednn_primitives.png"))
    return result


if __name__ == "__main__":
    main()

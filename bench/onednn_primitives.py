"""Where a bf16 training step spends its oneDNN time, TensorFlow beside PyTorch: the
same CIFAR ResNet-20 step as bench/train_throughput_vs_torch.py (batch 128; ours:
what ``keras-resnet train --precision bfloat16`` runs, mixed_bfloat16 with the fused
BN; PyTorch: channels_last under ``torch.autocast('cpu', dtype=torch.bfloat16)``),
each run with oneDNN's own execution log on (``ONEDNN_VERBOSE=1``), summed per
primitive kind (convolution forward / backward data / backward weights, batch norm,
reorders...) with the kernel each kind ran (``brg_conv_fwd:avx512_core_bf16``...).
Our float32 step (``keras-resnet train`` without ``--precision``, the fused BN) is
logged the same way, so each primitive's bf16 gain is read off one table.

Each convolution line of the log also names its problem (``mb128_ic16oc16_ih32oh32kh3...``):
from it the multiply-adds of every call are counted (batch x output channels x input
channels per group x output pixels x kernel taps; the same count for the forward, the
backward-data and the backward-weights pass), so each kind's GFLOP/s (2 FLOPs per
multiply-add) is set against the machine's float32 FMA and bf16 ``vdpbf16ps`` peaks,
measured at the start of the run by bench/fma_peak.py with the workers' thread count.
That gives the floor no framework can go under on this CPU: the convolutions' time at
100% of the peak.

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

Each round runs the three workers (ours bf16, PyTorch bf16, ours float32), each going
first in turn.

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
# The step each worker runs: bench/train_throughput_vs_torch.py's, so that this log
# explains that benchmark's rows. "tensorflow" and "torch" are the two bf16 steps;
# "tensorflow_float32" is our float32 step, the baseline of the bf16 gain.
KERAS_VARIANT = "keras: bf16 + fused BN + model.fit"
KERAS_FLOAT32_VARIANT = "keras: fused BN + model.fit"
TORCH_VARIANT = "torch bf16 autocast channels_last"
WORKERS = {"tensorflow": KERAS_VARIANT, "torch": TORCH_VARIANT,
           "tensorflow_float32": KERAS_FLOAT32_VARIANT}
FRAMEWORKS = ("tensorflow", "torch")  # the bf16 comparison
# A convolution's problem in oneDNN's log: ``[g2]mb128_ic16oc16_ih32oh32kh3sh1dh0ph1_iw..``
PROBLEM_TERM = re.compile(r"([a-z]+)(\d+)")


def conv_macs(problem):
    """Multiply-adds of one convolution call from its oneDNN problem descriptor, e.g.
    ``mb128_ic16oc32_ih32oh16kh3sh2dh0ph1_iw32ow16kw3sw2dw0pw1`` -> 128*32*16*16*16*3*3.
    Groups divide the input channels; a missing depth (2-D) counts as 1.

    Raises ValueError when the descriptor lacks the batch, the channels or the output
    height/width (a log format this parser does not know)."""
    terms = {}
    for key, value in PROBLEM_TERM.findall(problem):
        terms.setdefault(key, int(value))
    missing = [k for k in ("mb", "ic", "oc", "oh", "ow") if k not in terms]
    if missing:
        raise ValueError(f"not a convolution problem descriptor: {problem!r} "
                         f"(no {', '.join(missing)})")
    product = 1
    for k in ("mb", "oc", "oh", "ow", "od", "kh", "kw", "kd"):
        product *= terms.get(k, 1)
    return product * terms["ic"] // terms.get("g", 1)


def worker(framework, steps, threads, inter_op):
    """Warm up, time ``steps`` steps (wall), then run ``steps`` more between two marks
    in the log. oneDNN's log goes to stdout; the marks and the timing too."""
    sys.path.insert(0, os.path.dirname(HERE))
    import train_throughput_vs_torch as throughput

    variant = WORKERS[framework]
    if framework.startswith("tensorflow"):
        os.environ.update(throughput.VARIANTS[variant][0], KR_INTER_OP=str(inter_op))
        import keras_resnet  # noqa: F401  (before TensorFlow: its oneDNN switch)
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        run = throughput.keras_step_fn(variant)
    else:
        import torch

        torch.set_num_threads(threads)
        run = throughput.torch_step_fn(channels_last=variant.endswith("channels_last"),
                                       bf16="bf16" in variant)
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
    lines of oneDNN's log between the marks, and the wall ms per step. Convolution rows
    also get "gflop" (per step) and "problems": {descriptor: {"ms", "gflop", "calls"}}
    per step, so a slow layer shape can be told from a slow kind."""
    body = log.split(MARK, 1)[1]
    wall = float(body.split("\n", 1)[0].split("=", 1)[1])
    body = body.split(END, 1)[0]
    rows = collections.defaultdict(lambda: {"ms": 0.0, "calls": 0, "kernels": set(),
                                            "gflop": 0.0, "problems": collections.defaultdict(
                                                lambda: {"ms": 0.0, "gflop": 0.0, "calls": 0})})
    for line in body.splitlines():
        f = line.split(",")
        # onednn_verbose,[timestamp,]v1,primitive,exec,cpu,<kind>,<kernel>,<prop>,...,
        # <problem>,<ms>
        if not line.startswith("onednn_verbose") or "exec" not in f:
            continue
        i = f.index("exec")
        kind, kernel, prop = f[i + 2], f[i + 3], f[i + 4]
        row = rows[KINDS.get((kind, prop), "other oneDNN primitives")]
        ms = float(f[-1]) / steps
        row["ms"] += ms
        row["calls"] += 1
        row["kernels"].add(kernel)
        if kind == "convolution":
            gflop = 2 * conv_macs(f[-2]) / 1e9 / steps
            row["gflop"] += gflop
            problem = row["problems"][f[-2]]
            problem["ms"] += ms
            problem["gflop"] += gflop
            problem["calls"] += 1
    out = {}
    for r, v in rows.items():
        out[r] = {"ms": v["ms"], "calls": v["calls"] // steps, "kernels": sorted(v["kernels"])}
        if v["problems"]:
            out[r]["gflop"] = v["gflop"]
            out[r]["problems"] = {k: {**p, "calls": p["calls"] // steps}
                                  for k, p in v["problems"].items()}
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
        problems = [run["rows"].get(name, {}).get("problems") for run in runs]
        if any(problems):
            # the work per step is the model's: the same in every round
            rows[name]["gflop"] = max(run["rows"].get(name, {}).get("gflop", 0.0)
                                      for run in runs)
            rows[name]["problems"] = {
                k: {"ms": statistics.median(p.get(k, {}).get("ms", 0.0) for p in problems if p),
                    "gflop": max(p.get(k, {}).get("gflop", 0.0) for p in problems if p),
                    "calls": max(p.get(k, {}).get("calls", 0) for p in problems if p)}
                for k in {k for p in problems if p for k in p}}
    walls = [run["wall_ms_per_step"] for run in runs]
    return {"onednn": runs[0]["onednn"], "onednn_runtime": runs[0]["onednn_runtime"],
            "wall_ms_per_step": statistics.median(walls), "wall_range": [min(walls), max(walls)],
            "rows": rows}


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = [w for w in WORKERS if w in result]
    labels = {"tensorflow": "ours, bf16", "torch": "PyTorch bf16 autocast",
              "tensorflow_float32": "ours, float32"}
    rows = [r for r in list(KINDS.values()) + ["other oneDNN primitives"]
            if any(r in result[w]["rows"] for w in workers)]
    fig, ax = plt.subplots(figsize=(8, 3.4), dpi=120)
    colours = plt.get_cmap("tab10").colors
    for i, w in enumerate(workers):
        left = 0.0
        for j, r in enumerate(rows):
            v = result[w]["rows"].get(r, {}).get("ms", 0.0)
            ax.barh(i, v, left=left, color=colours[j % 10], label=r if i == 0 else None)
            left += v
        wall = result[w]["wall_ms_per_step"]
        ax.plot([wall, wall], [i - 0.4, i + 0.4], color="black", lw=2,
                label="step wall time" if i == 0 else None)
        floor = result.get("convolution_floor_ms", {}).get(w)
        if floor:
            ax.plot([floor, floor], [i - 0.4, i + 0.4], color="black", lw=1, ls=":",
                    label="convolutions at 100% of the peak" if i == 0 else None)
    ax.set_yticks(range(len(workers)), [labels[w] for w in workers])
    ax.set_xlabel("ms per training step (oneDNN's own timing of each call)")
    ax.set_title(f"ResNet-20 training step, batch {BATCH}: {result['cpu']}, "
                 f"{result['threads']} threads", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
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
    p.add_argument("--worker", default=None, choices=list(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.steps, args.threads, args.inter_op)
    sys.path.insert(0, os.path.dirname(HERE))
    from keras_resnet.cpu import cpu_bf16_units

    import fma_peak
    from train_throughput_vs_torch import _cpu_model

    result = {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "bf16_units": cpu_bf16_units() or [],
              "versions": versions(),
              "batch": BATCH, "steps": args.steps, "threads": args.threads,
              "tensorflow_inter_op": args.inter_op}
    print(f"peaks on {args.threads} thread(s) (bench/fma_peak.py) ...", flush=True)
    peaks = fma_peak.measure(threads=[args.threads], repeats=3)
    print(fma_peak.summary(peaks), flush=True)
    result["peaks"] = {"float32_gflops": peaks["fp32_peak_gflops"],
                       "bfloat16_gflops": peaks["bf16_peak_gflops"],
                       "bfloat16_note": peaks.get("bf16_note")}
    names = list(WORKERS)
    runs = {w: [] for w in names}
    for r in range(args.rounds):
        for w in names[r % len(names):] + names[:r % len(names)]:  # each goes first in turn
            print(f"round {r + 1}/{args.rounds}: {w}, {args.steps} logged steps ...",
                  flush=True)
            runs[w].append(run_worker(w, args.steps, args.threads, args.inter_op))
    result["rounds"] = args.rounds
    for w in names:
        result[w] = combine(runs[w])
    conv = {w: [sum(v["ms"] for k, v in run["rows"].items() if k.startswith("convolution"))
                for run in runs[w]] for w in names}
    ratios = [a / b for a, b in zip(conv["tensorflow"], conv["torch"])]
    result["convolutions_tf_over_torch"] = {"median": statistics.median(ratios),
                                            "range": [min(ratios), max(ratios)]}
    gains = [a / b for a, b in zip(conv["tensorflow_float32"], conv["tensorflow"])]
    result["convolutions_float32_over_bf16"] = {"median": statistics.median(gains),
                                                "range": [min(gains), max(gains)]}
    # The floor: every convolution of the step at the machine's peak for its precision.
    peak = {"tensorflow": result["peaks"]["bfloat16_gflops"],
            "torch": result["peaks"]["bfloat16_gflops"],
            "tensorflow_float32": result["peaks"]["float32_gflops"]}
    result["convolution_floor_ms"] = {
        w: (sum(v.get("gflop", 0.0) for v in result[w]["rows"].values()) / peak[w] * 1000
            if peak[w] else None) for w in names}
    for w in names:
        r = result[w]
        print(f"\n{w} (oneDNN {r['onednn']}, {r['onednn_runtime']}): wall "
              f"{r['wall_ms_per_step']:.1f} ms/step (median of {args.rounds} workers)")
        for row, v in sorted(r["rows"].items(), key=lambda kv: -kv[1]["ms"]):
            rate = (f"  {v['gflop'] / v['ms'] * 1000:5.0f} GFLOP/s" if v.get("gflop") and v["ms"]
                    else "")
            print(f"  {v['ms']:7.2f} ms  {v['calls']:3d} calls{rate}  {row}  "
                  f"[{', '.join(v['kernels'])}]")
        floor = result["convolution_floor_ms"][w]
        if floor:
            print(f"  convolutions at 100% of the peak ({peak[w]:.0f} GFLOP/s): {floor:.1f} ms")
    c = result["convolutions_tf_over_torch"]
    g = result["convolutions_float32_over_bf16"]
    print(f"\nconvolutions, TensorFlow / PyTorch time: {c['median']:.2f}x "
          f"({c['range'][0]:.2f}-{c['range'][1]:.2f} over the rounds); ours float32 / bf16: "
          f"{g['median']:.2f}x ({g['range'][0]:.2f}-{g['range'][1]:.2f})")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "onednn_primitives.json"), "w") as fh:
            json.dump(result, fh, indent=2)
        plot(result, os.path.join(args.out, "onednn_primitives.png"))
    return result


if __name__ == "__main__":
    main()

"""Batch-1 latency of ``Predictor(precision="auto")`` against ONNX Runtime fp32 on the
shipped Fashion-MNIST nets, each runtime in its own process, as a server runs one of them.

bench/inference_backends.py times both in one process, in alternating blocks of 20
calls: there, one runtime's worker threads (ONNX Runtime's spin after each call) can
slow the other's next block, and on a 2-core machine which block follows which decides
the two-thread ratio. Here each path lives in its own long-lived process (a spawned
worker that builds its Predictor once, as a server does) and the two take turns: the
parent asks one for a stretch of ``--seconds`` of back-to-back calls, waits for its
answer, then asks the other, ``--rounds`` times, the order reversed each round; a round's
ratio is ONNX Runtime's mean time per call over the auto pick's in adjacent stretches.
Each worker also reports what the Predictor's own checks cost per call: its call, and its
general path (every check, as any array-like input takes), against its runner's unchecked
``run_checked`` on the same image, in short alternating blocks.

* ONNX Runtime fp32: ``Predictor(model, backend="onnxruntime")``, all cores (the
  reference of bench/inference_backends.py);
* auto: ``Predictor(model, precision="auto", min_agreement=0.995,
  calibration_images=<500 training images>, verify_images=<1000 test images>)``, which
  picks its candidate and thread count itself.

Goal (issue "the fastest answer within an accuracy budget"): auto >= 3x ONNX Runtime
fp32 at batch 1. The JSON records the CPU's flags; run it on a quiet machine:

    python bench/batch1_processes.py [--rounds 10] [--seconds 1] [--out docs/bench]
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SCHEMA = 1
TAGS = ("resnet20.fashion_mnist", "plain20.fashion_mnist")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
CALIBRATION_IMAGES = 500  # as bench/inference_backends.py
VERIFY_IMAGES = 1000
GOAL = 3.0
OVERHEAD_ROUNDS = 500
PATHS = ("onnxruntime fp32", "Predictor(auto)")


def _images(tag, data_dir):
    """(calibration, verification) images of ``tag``'s net, preprocessed."""
    import keras_resnet
    from keras_resnet.data import load_idx_dir

    (x_train, _), (x_test, _) = load_idx_dir(data_dir)
    model, preprocess = keras_resnet.load_pretrained(tag)
    return (model, preprocess(x_train[:CALIBRATION_IMAGES]),
            preprocess(x_test[:VERIFY_IMAGES]))


def _block(fn, x, seconds):
    """Mean seconds per call of ``fn(x)`` over back-to-back calls lasting ~``seconds``."""
    t = time.perf_counter()
    for _ in range(20):
        fn(x)
    n = max(20, int(seconds / max((time.perf_counter() - t) / 20, 1e-7)))
    t = time.perf_counter()
    for _ in range(n):
        fn(x)
    return (time.perf_counter() - t) / n


def worker(path, tag, data_dir, conn):
    """One path in its own process: build its Predictor, then answer the parent's
    ``("time", seconds)`` with seconds per call and ``("overhead", rounds)`` with the
    Predictor's own cost per call, until ``("stop",)``."""
    import keras_resnet

    model, cal, ver = _images(tag, data_dir)
    if path == PATHS[0]:
        p = keras_resnet.Predictor(model, backend="onnxruntime", verify_images=ver[:8],
                                   preprocessing=tag)
    else:
        p = keras_resnet.Predictor(model, precision="auto", min_agreement=0.995,
                                   calibration_images=cal, verify_images=ver,
                                   preprocessing=tag)
    one = np.ascontiguousarray(ver[:1])
    runner = p.runner(p.candidate)
    threads = p.report[p.candidate].get("num_threads") or getattr(runner, "num_threads", None)
    conn.send({"candidate": p.candidate, "num_threads": threads,
               "candidates": {k: {f: v.get(f) for f in ("verified", "latency_ms",
                                                         "num_threads", "top1_agreement",
                                                         "latency_ms_by_threads",
                                                         "latency_ms_alone_by_threads",
                                                         "error", "skipped")}
                              for k, v in p.report.items()}})
    bare = getattr(runner, "run_checked", runner)
    while True:
        msg = conn.recv()
        if msg[0] == "stop":
            break
        if msg[0] == "time":
            conn.send(_block(p, one, msg[1]))
        elif msg[0] == "overhead":
            conn.send(overhead(p, bare, one, msg[1]))


def overhead(predictor, bare, x, rounds, calls=20):
    """What the Predictor's own checks cost per call: ``rounds`` pairs of ``calls``-call
    blocks of ``predictor(x)`` and ``bare(x)`` (its runner without checks), the order
    swapped each round; a few-microsecond difference on a call of 0.1-0.5 ms is only
    seen in short blocks that share the machine's phase, and in the median of many."""
    fns = {"predictor": predictor, "general": predictor._serve, "runner": bare}
    times = {k: [] for k in fns}
    for r in range(rounds):
        names = list(fns)[r % 3:] + list(fns)[:r % 3]
        for name in names:
            fn = fns[name]
            start = time.perf_counter()
            for _ in range(calls):
                fn(x)
            times[name].append((time.perf_counter() - start) / calls)
    diff = {k: 1e6 * statistics.median(a - b for a, b in zip(times[k], times["runner"]))
            for k in ("predictor", "general")}
    return {"predictor_ms": 1000 * statistics.median(times["predictor"]),
            "runner_ms": 1000 * statistics.median(times["runner"]),
            "overhead_us": diff["predictor"], "general_path_overhead_us": diff["general"],
            "rounds": rounds, "calls": calls}


def measure(tag, rounds, seconds, data_dir):
    """Both paths of ``tag``'s net, each in its own process, in alternating stretches."""
    ctx = multiprocessing.get_context("spawn")
    procs, conns, info = {}, {}, {}
    try:
        for path in PATHS:  # one at a time: building times candidates on both cores
            parent, child = ctx.Pipe()
            procs[path] = ctx.Process(target=worker, args=(path, tag, data_dir, child),
                                      daemon=True)
            procs[path].start()
            conns[path] = parent
            info[path] = parent.recv()
            print(f"{tag}: {path} ready: {info[path]['candidate']} on "
                  f"{info[path]['num_threads']} thread(s)", flush=True)
        ms = {p: [] for p in PATHS}
        for r in range(rounds):
            for path in (PATHS if r % 2 == 0 else PATHS[::-1]):
                conns[path].send(("time", seconds))
                ms[path].append(1000 * conns[path].recv())
            print(f"{tag}: round {r + 1}/{rounds}: " + ", ".join(
                f"{p} {ms[p][-1]:.3f} ms" for p in PATHS)
                + f" -> {ms[PATHS[0]][-1] / ms[PATHS[1]][-1]:.2f}x", flush=True)
        checks = {}
        for path in PATHS:
            conns[path].send(("overhead", OVERHEAD_ROUNDS))
            checks[path] = conns[path].recv()
        for path in PATHS:
            conns[path].send(("stop",))
    finally:
        for proc in procs.values():
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
    ratios = [o / a for o, a in zip(ms[PATHS[0]], ms[PATHS[1]])]
    return {"weights": tag, "pick": info[PATHS[1]]["candidate"],
            "num_threads": info[PATHS[1]]["num_threads"],
            "candidates": info[PATHS[1]]["candidates"],
            "onnxruntime_ms_rounds": ms[PATHS[0]], "auto_ms_rounds": ms[PATHS[1]],
            "onnxruntime_ms": statistics.median(ms[PATHS[0]]),
            "auto_ms": statistics.median(ms[PATHS[1]]),
            "ratio_rounds": ratios, "ratio_vs_onnxruntime": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)], "predictor_overhead": checks}


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.2), dpi=120,
                             squeeze=False)
    for ax, r in zip(axes[0], rows):
        rounds = range(1, len(r["auto_ms_rounds"]) + 1)
        ax.plot(rounds, r["onnxruntime_ms_rounds"], "o-", label="ONNX Runtime fp32")
        ax.plot(rounds, r["auto_ms_rounds"], "s-",
                label=f"auto: {r['pick']} ({r['num_threads']} thr.)")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("round")
        ax.set_ylabel("ms per call, batch 1")
        ax.set_title(f"{r['weights']}: {r['ratio_vs_onnxruntime']:.2f}x "
                     f"({r['ratio_range'][0]:.2f}–{r['ratio_range'][1]:.2f})", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"Batch 1, each runtime in its own process ({result['machine']['cpu']})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def goals(result):
    return [{"goal": f"Predictor(precision='auto', min_agreement=0.995) >= {GOAL:.0f}x ONNX "
                     f"Runtime fp32 at batch 1, each in its own process, {r['weights']}",
             "measured": f"{r['ratio_vs_onnxruntime']:.2f}x (rounds "
                         f"{r['ratio_range'][0]:.2f}–{r['ratio_range'][1]:.2f}), picks "
                         f"{r['pick']} on {r['num_threads']} thread(s)",
             "met": r["ratio_vs_onnxruntime"] >= GOAL} for r in result["rows"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=1.0,
                    help="length of one stretch of calls (default 1)")
    ap.add_argument("--tags", nargs="+", default=list(TAGS), choices=TAGS)
    ap.add_argument("--data-dir", default=FASHION_DIR)
    ap.add_argument("--out", default="docs/bench")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        ap.error("--rounds must be >= 1 and --seconds > 0")
    if not os.path.isdir(args.data_dir):
        ap.error(f"no Fashion-MNIST idx files in {args.data_dir}: run `make data` (Debian's "
                 "dataset-fashion-mnist) or give --data-dir")
    from inference_backends import machine_info  # the same record as that benchmark's

    started = time.time()
    result = {"schema": SCHEMA, "command": "python bench/batch1_processes.py "
              + " ".join(sys.argv[1:] if argv is None else argv),
              "machine": machine_info(), "rounds": args.rounds, "seconds": args.seconds,
              "rows": [measure(t, args.rounds, args.seconds, args.data_dir)
                       for t in args.tags]}
    result["goals"] = goals(result)
    result["total_seconds"] = time.time() - started
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "batch1_processes.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(args.out, "batch1_processes.png"))
    for g in result["goals"]:
        print(f"goal {'MET' if g['met'] else 'NOT met'}: {g['goal']}: {g['measured']}")
    for r in result["rows"]:
        for path, o in r["predictor_overhead"].items():
            print(f"{r['weights']}: {path}: Predictor call {o['predictor_ms']:.3f} ms, runner "
                  f"alone {o['runner_ms']:.3f} ms: checks {o['overhead_us']:.1f} us a call "
                  f"(general path: {o['general_path_overhead_us']:.1f} us)")
    print(f"wrote {args.out}/batch1_processes.json and .png "
          f"({result['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
